"""Who is asking, and may they: the request-scoped dependencies every route uses.

Identity comes from the bearer token only; role, flags and account settings are
read fresh from the database on every request, so a changed role or a
deactivated user takes effect at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Type, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import tokens
from bot.policy import Subject, load_table
from bot.services import audit
from bot.services import models as m
from bot.services import schemas as s
from bot.services.errors import Forbidden, NotFound, TokenExpiredError, Unauthorized
from bot.settings import Settings

T = TypeVar("T")
IdempotencyKey = Header(None, alias=s.IDEMPOTENCY_HEADER)


@dataclass
class Principal:
    """The verified caller: a user, their active account (if any) and their role there."""

    user: m.User
    account: Optional[m.Account]
    membership: Optional[m.Membership]
    channel: str

    @property
    def role(self) -> Optional[str]:
        return self.membership.role if self.membership else self.user.staff_role

    @property
    def account_id(self) -> Optional[int]:
        return self.account.id if self.account else None

    def subject(self) -> Subject:
        return Subject(
            role=self.role,
            user_flags=self.user.flags,
            account_type=self.account.type if self.account else None,
            country=self.account.country if self.account else None,
            account_settings=self.account.settings if self.account else frozenset(),
            authenticated=True,
        )


@dataclass
class Ctx:
    """What a route needs: the request's session, the caller and the app's settings."""

    session: Session
    principal: Principal
    settings: Settings
    engine: Engine
    capability: str
    # Probes seen while a write transaction is open: recorded after its rollback, since a
    # second connection could not write to SQLite while this one holds the lock.
    deferred_probes: List[Dict[str, object]] = field(default_factory=list)
    writing: bool = False

    def record_deferred_probes(self) -> None:
        for probe in self.deferred_probes:
            audit.record_now(self.engine, self.principal, **probe)
        self.deferred_probes.clear()

    @property
    def account(self) -> m.Account:
        assert self.principal.account is not None, "capability checks guarantee an account"
        return self.principal.account

    @property
    def today(self) -> dt.date:
        return dt.date.today()

    def owned(self, model: Type[T], label: str, **where: object) -> T:
        """Fetch one object of the caller's account by its public identifier.

        An object of another account is reported exactly like a missing one, and
        the attempt is written to the audit log.

        Raises:
            NotFound: no such object in the caller's account.
        """
        obj = self.session.scalar(select(model).filter_by(**where))
        shown = " ".join(str(v) for v in where.values())
        if obj is not None and obj.account_id != self.account.id:  # type: ignore[attr-defined]
            probe: Dict[str, object] = {
                "action": f"probe:{self.capability}",
                "target": f"{label} {shown}",
                "outcome": "not_found",
                "detail": {"owner_account_id": obj.account_id},  # type: ignore[attr-defined]
            }
            if self.writing:
                self.deferred_probes.append(probe)
            else:
                audit.record_now(self.engine, self.principal, **probe)  # type: ignore[arg-type]
            obj = None
        if obj is None:
            raise NotFound(f"{label} {shown} was not found", what=label, id=shown)
        return obj


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; anything not committed explicitly is rolled back."""
    with Session(request.app.state.engine) as session:
        yield session


def _bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def requested_account(request: Request) -> Optional[int]:
    """The `Premier-Account` header: another of the caller's accounts for this request.

    Raises:
        Unauthorized: the header is not a plain account id.
    """
    raw = request.headers.get(s.ACCOUNT_HEADER)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 10) or not 0 < int(raw) <= s.MAX_ID:
        raise Unauthorized(f"the {s.ACCOUNT_HEADER} header must be an account id")
    return int(raw)


def resolve_principal(
    session: Session, settings: Settings, token: str, account_id: Optional[int] = None
) -> Principal:
    """Verify `token` and load the caller from the database.

    Args:
        account_id: act in this account instead of the token's (the caller must be a member).
    Raises:
        TokenExpiredError: the token is genuine but expired (sign in again).
        Unauthorized: forged, malformed, or for a user/account no longer active.
        NotFound: `account_id` is not one of the caller's accounts.
    """
    try:
        identity = tokens.verify_token(settings.token_verification_key(), token)
    except tokens.TokenExpired:
        raise TokenExpiredError("your session has expired; please sign in again") from None
    except tokens.TokenInvalid:
        raise Unauthorized("the token is not valid") from None
    user = session.get(m.User, identity.user_id)
    if user is None or user.status != "active":
        raise Unauthorized("the token is not valid")
    account = membership = None
    if account_id is not None and account_id != identity.account_id:
        membership = session.scalar(
            select(m.Membership).filter_by(user_id=user.id, account_id=account_id, status="active")
        )
        if membership is None:
            raise NotFound(
                "the account was not found among your accounts", what="account", id=str(account_id)
            )
        account = membership.account
    elif identity.account_id is not None:
        membership = session.scalar(
            select(m.Membership).filter_by(
                user_id=user.id, account_id=identity.account_id, status="active"
            )
        )
        if membership is None:
            raise Unauthorized("you no longer have access to this account")
        account = membership.account
    return Principal(user=user, account=account, membership=membership, channel=identity.channel)


def get_principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    token = _bearer(request)
    if token is None:
        raise Unauthorized("sign in required: send 'Authorization: Bearer <token>'")
    return resolve_principal(session, request.app.state.settings, token, requested_account(request))


def site_admins(session: Session, account_id: Optional[int]) -> List[Dict[str, str]]:
    """The people who can help with a denial: the account's active site admins."""
    if account_id is None:
        return []
    rows = session.execute(
        select(m.User.name, m.User.email)
        .join(m.Membership, m.Membership.user_id == m.User.id)
        .where(
            m.Membership.account_id == account_id,
            m.Membership.role == "site_admin",
            m.Membership.status == "active",
            m.User.status == "active",
        )
        .order_by(m.User.name)
    ).all()
    return [{"name": name, "email": email} for name, email in rows]


def require(capability: str) -> Callable[..., Ctx]:
    """A dependency that admits the caller only if the permission table allows `capability`."""
    load_table().capability(capability)  # fail at import of the route, not per request

    def dependency(
        request: Request,
        session: Session = Depends(get_session),
        principal: Principal = Depends(get_principal),
    ) -> Ctx:
        decision = load_table().decide(capability, principal.subject())
        if not decision.allowed:
            engine = request.app.state.engine
            audit.record_now(
                engine,
                principal,
                action=capability,
                outcome="denied",
                detail={"reason": decision.reason.value if decision.reason else ""},
            )
            raise Forbidden(decision, site_admins(session, principal.account_id))
        return Ctx(
            session, principal, request.app.state.settings, request.app.state.engine, capability
        )

    return dependency
