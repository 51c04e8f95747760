"""Who is asking, and may they: the request-scoped dependencies every route uses.

Identity comes from the bearer token only; role, flags and account settings are
read fresh from the database on every request, so a changed role or a
deactivated user takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import inspect as pyinspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type, TypeVar

from fastapi import Depends, Header, Request
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import tokens
from bot.policy import Decision, Reason, Subject, load_table
from bot.ratelimit import RateLimited
from bot.services import audit, downloads
from bot.services import models as m
from bot.services import schemas as s
from bot.services.errors import (
    Forbidden,
    NoHandoffGrant,
    NotFound,
    SessionEndedError,
    TokenExpiredError,
    TooManyRequests,
    Unauthorized,
)
from bot.settings import Settings

T = TypeVar("T")
IdempotencyKey = Header(None, alias=s.IDEMPOTENCY_HEADER)
# What a support agent is treated as while reading a customer's account through a handoff:
# the vendor's read-only view, so every write stays refused by the permission table.
GRANT_ROLE = "account_team"


@dataclass
class Principal:
    """The verified caller: a user, their active account (if any) and their role there."""

    user: m.User
    account: Optional[m.Account]
    membership: Optional[m.Membership]
    channel: str
    # What the bearer token said, its session included: a renewed or switched token keeps it.
    token: Optional[tokens.Identity] = None
    # The handoff whose grant admits a support agent to `account` for this request.
    handoff_id: Optional[int] = None

    @property
    def role(self) -> Optional[str]:
        return self.membership.role if self.membership else self.user.staff_role

    @property
    def account_id(self) -> Optional[int]:
        return self.account.id if self.account else None

    def subject(self) -> Subject:
        return Subject(
            role=GRANT_ROLE if self.handoff_id is not None else self.role,
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
    audit_log: audit.AuditWriter
    # Probes seen while a write transaction is open are queued once it has ended: on
    # SQLite the audit writer would otherwise sit waiting for this request's own lock.
    deferred_probes: List[Dict[str, object]] = field(default_factory=list)
    writing: bool = False

    def record_deferred_probes(self) -> None:
        for probe in self.deferred_probes:
            self.audit_log.submit(self.principal, **probe)
        self.deferred_probes.clear()

    def probe(self, target: str, **detail: object) -> None:
        """Audit an attempt at another account's object, off the request path."""
        probe: Dict[str, object] = {
            "action": f"probe:{self.capability}",
            "target": target,
            "outcome": "not_found",
            "detail": detail,
        }
        if self.writing:
            self.deferred_probes.append(probe)
        else:
            self.audit_log.submit(self.principal, **probe)

    def link(self, kind: str, object_id: int) -> Tuple[str, dt.datetime]:
        """A signed download link to one of the account's files, for the caller only."""
        return downloads.sign_link(
            self.settings,
            downloads.LinkTarget(kind, object_id, self.account.id, self.principal.user.id),
        )

    @property
    def account(self) -> m.Account:
        assert self.principal.account is not None, "capability checks guarantee an account"
        return self.principal.account

    @property
    def today(self) -> dt.date:
        return dt.date.today()

    def owned(self, model: Type[T], label: str, **where: object) -> T:
        """Fetch one object of the caller's account by its public identifier.

        An object of another account is reported exactly like a missing one, in
        the same time: both run the same two queries (the account's object, then
        whose it is), and the probe's audit row is written after the answer.

        Raises:
            NotFound: no such object in the caller's account.
        """
        account_id = model.account_id  # type: ignore[attr-defined]
        obj = self.session.scalar(
            select(model).filter_by(**where).where(account_id == self.account.id)
        )
        if obj is not None:
            return obj
        owner = self.session.scalar(select(account_id).filter_by(**where))
        shown = " ".join(str(v) for v in where.values())
        if owner is not None:
            self.probe(f"{label} {shown}", owner_account_id=owner)
        raise NotFound(f"{label} {shown} was not found", what=label, id=shown)

    def locked(self, obj: T) -> T:
        """`obj` read again under a row lock, held until the transaction ends.

        For a check that decides a write (already paid? already deactivated?):
        made on the locked row, it sees the latest committed state and a
        concurrent write of the same row waits for this one. PostgreSQL takes
        `SELECT ... FOR UPDATE`; on SQLite the write transaction `run_write`
        has opened already excludes every other writer.
        """
        identity = inspect(obj).identity
        fresh = self.session.get(type(obj), identity, with_for_update=True, populate_existing=True)
        assert fresh is not None, "a row the request holds cannot vanish under its lock"
        return fresh


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
        SessionEndedError: the token's session is older than `settings.session_max`.
        Unauthorized: forged, malformed, or for a user/account no longer active.
        NotFound: `account_id` is not one of the caller's accounts.
    """
    try:
        identity = tokens.verify_token(
            settings.token_verification_key(), token, max_session=settings.session_max
        )
    except tokens.SessionEnded:
        raise SessionEndedError() from None
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
    return Principal(
        user=user, account=account, membership=membership, channel=identity.channel, token=identity
    )


def requested_handoff(request: Request) -> Optional[int]:
    """The `Premier-Handoff` header: the handoff a support agent reads an account through.

    Raises:
        Unauthorized: the header is not a plain handoff id.
    """
    raw = request.headers.get(s.HANDOFF_HEADER)
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 10) or not 0 < int(raw) <= s.MAX_ID:
        raise Unauthorized(f"the {s.HANDOFF_HEADER} header must be a handoff id")
    return int(raw)


def admit_through_handoff(
    session: Session, settings: Settings, principal: Principal, handoff_id: int
) -> None:
    """Put `principal` (a support agent) in the account of the handoff they hold, read-only.

    Admitted only while this agent holds that handoff (state `claimed`, and for a console
    claim, not silent past the grace period: such a claim is going back to the queue).
    The agent then acts with no membership, as the vendor's read-only view (`GRANT_ROLE`).

    Raises:
        NoHandoffGrant: not a support agent, or not holding that handoff now.
    """
    handoff = session.get(m.Handoff, handoff_id)
    held = (
        principal.user.staff_role == "support_agent"
        and principal.membership is None
        and handoff is not None
        and handoff.state == "claimed"
        and handoff.agent_id == principal.user.id
        and not handoff.agent_away(m.utcnow(), settings.handoff_agent_grace_seconds)
    )
    if not held or handoff is None:
        raise NoHandoffGrant(
            f"you do not hold handoff {handoff_id}: its account is not open to you",
            handoff_id=handoff_id,
        )
    principal.account = handoff.account
    principal.handoff_id = handoff.id


def entered_channel(request: Request) -> str:
    """Where the request entered the product, for the audit log.

    The action server names the chat channel its turn came through (`Premier-Channel`);
    any other caller entered through the HTTP API itself. The token's own channel says
    only where it was issued: a token made for the portal and used with curl is "api".
    """
    named = request.headers.get(s.CHANNEL_HEADER, "")
    return named if named in tokens.CHAT_CHANNELS else "api"


def get_principal(request: Request, session: Session = Depends(get_session)) -> Principal:
    """The verified caller; a refused credential is audited (off the request path) and raised."""
    try:
        token = _bearer(request)
        if token is None:
            raise Unauthorized("sign in required: send 'Authorization: Bearer <token>'")
        principal = resolve_principal(
            session, request.app.state.settings, token, requested_account(request)
        )
        handoff_id = requested_handoff(request)
    except Unauthorized as refused:
        address = client_address(request)
        request.app.state.audit.submit_anonymous(
            channel=entered_channel(request),
            action="authenticate",
            target=f"{request.method} {request.url.path}",
            outcome="denied",
            detail={"reason": refused.code, "address": address},
        )
        _within_budget(lambda: request.app.state.limits.check_address(address))
        raise
    _within_budget(lambda: request.app.state.limits.check_person(principal.user.id))
    principal.channel = entered_channel(request)
    if handoff_id is not None:
        try:
            admit_through_handoff(session, request.app.state.settings, principal, handoff_id)
        except NoHandoffGrant:
            request.app.state.audit.submit(
                principal,
                action="handoff_access",
                target=f"{request.method} {request.url.path}",
                outcome="denied",
                detail={"handoff_id": handoff_id, "reason": NoHandoffGrant.code},
            )
            raise
    return principal


def _within_budget(check: Callable[[], None]) -> None:
    """Run a rate-limit check; over the budget is the services' 429."""
    try:
        check()
    except RateLimited as over:
        raise TooManyRequests(over.retry_after) from None


def client_address(request: Request) -> str:
    """The caller's network address as the server saw it ("" when unknown)."""
    return request.client.host if request.client else ""


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
        if principal.handoff_id is not None:  # every read through a handoff's grant
            request.app.state.audit.submit(
                principal,
                action="handoff_access",
                target=f"{request.method} {request.url.path}",
                outcome="ok" if decision.allowed else "denied",
                detail={"handoff_id": principal.handoff_id, "capability": capability},
            )
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
            session,
            principal,
            request.app.state.settings,
            request.app.state.engine,
            capability,
            request.app.state.audit,
        )

    return dependency


def require_staff(
    capability: str, *, validated: Sequence[pyinspect.Parameter] = ()
) -> Callable[..., Ctx]:
    """A dependency for vendor staff's own tools (the handoff desk), which hold no account data.

    The permission table names the roles; its account rules do not apply, since staff have
    no account (`PermissionTable.decide` refuses anyone without one). `validated` are the
    route's own path and body parameters: declared here too, a request that fails to
    validate is answered 422 before the caller's role is looked at, as `require` does for
    the routes it admits.
    """
    roles = load_table().capability(capability).roles  # fail at import of the route

    def dependency(
        request: Request,
        session: Session = Depends(get_session),
        principal: Principal = Depends(get_principal),
        **_: Any,
    ) -> Ctx:
        if principal.user.staff_role not in roles or principal.membership is not None:
            decision = Decision(capability, False, Reason.ROLE, tuple(sorted(roles)))
            audit.record_now(
                request.app.state.engine,
                principal,
                action=capability,
                outcome="denied",
                detail={"reason": Reason.ROLE.value},
            )
            raise Forbidden(decision, site_admins(session, principal.account_id))
        return Ctx(
            session,
            principal,
            request.app.state.settings,
            request.app.state.engine,
            capability,
            request.app.state.audit,
        )

    own = [
        p for p in pyinspect.signature(dependency).parameters.values() if p.kind != p.VAR_KEYWORD
    ]
    dependency.__signature__ = pyinspect.Signature([*own, *validated])  # type: ignore[attr-defined]
    return dependency
