"""Who am I, what may I do here, switch account, renew the token; plus the public endpoints."""

from __future__ import annotations

import datetime as dt
from typing import List, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import tokens
from bot.accounts import choose_membership
from bot.policy import load_table
from bot.services import audit, views
from bot.services import models as m
from bot.services import schemas as s
from bot.services.context import (
    Ctx,
    Principal,
    get_principal,
    get_session,
    require,
    site_admins,
)
from bot.services.errors import BadRequest, InvalidInput, NotFound, SessionEndedError
from bot.settings import Settings

router = APIRouter()


@router.get("/health", tags=["public"])
def health() -> dict:
    """Liveness: the process answers (the runner and a liveness probe restart it if not)."""
    return {"status": "ok"}


@router.get("/health/ready", tags=["public"])
def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers too; while it does not, take this worker out of
    rotation (503) rather than restart it: a restart would not bring the database back."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "not ready", "missing": ["database"]}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/support-contacts", response_model=List[s.SupportContactOut], tags=["public"])
def support_contacts(
    region: Optional[str] = Query(None, description="Americas, EMEA or APJ"),
    session: Session = Depends(get_session),
) -> List[m.SupportContact]:
    """Regional Premier support contacts; no sign-in needed."""
    query = select(m.SupportContact).order_by(m.SupportContact.region)
    if region is not None:
        match = next((r for r in s.REGIONS if r.lower() == region.strip().lower()), None)
        if match is None:
            raise InvalidInput(f"region must be one of {', '.join(s.REGIONS)}")
        query = query.where(m.SupportContact.region == match)
    return list(session.scalars(query))


def _memberships(session: Session, user_id: int) -> List[m.Membership]:
    return list(
        session.scalars(
            select(m.Membership)
            .filter_by(user_id=user_id, status="active")
            .order_by(m.Membership.id)
        )
    )


def _me(session: Session, principal: Principal) -> s.Me:
    user, account = principal.user, principal.account
    membership = principal.membership
    return s.Me(
        user_id=user.id,
        email=user.email,
        name=user.name,
        language=user.language,
        role=principal.role,
        flags=sorted(user.flags),
        account=views.account(account) if account else None,
        access_group=membership.access_group.name
        if membership and membership.access_group
        else None,
        accounts=[
            s.AccountRef(id=ms.account.id, name=ms.account.name, role=ms.role)
            for ms in _memberships(session, user.id)
        ],
        capabilities=list(load_table().allowed(principal.subject())),
        site_admins=site_admins(session, principal.account_id),
    )


@router.get("/me", response_model=s.Me, tags=["identity"])
def me(
    session: Session = Depends(get_session), principal: Principal = Depends(get_principal)
) -> s.Me:
    """The caller, their active account and role, their other accounts, and what they may do."""
    return _me(session, principal)


@router.get("/me/decisions/{capability}", response_model=s.Decision, tags=["identity"])
def decision(capability: str, principal: Principal = Depends(get_principal)) -> s.Decision:
    """Whether the caller may use `capability` here, and if not, which rule says no."""
    table = load_table()
    if capability not in table:
        raise NotFound(
            f"capability {capability} was not found", what="capability", id=capability[:60]
        )
    return s.Decision(**table.decide(capability, principal.subject()).as_dict())


@router.post("/me/switch-account", response_model=s.SwitchAccountOut, tags=["identity"])
def switch_account(
    body: s.SwitchAccountIn, request: Request, ctx: Ctx = Depends(require("switch_account"))
) -> s.SwitchAccountOut:
    """Make another of the caller's accounts the active one; returns a token for it.

    The account may be named by name (case-insensitive, a unique prefix is
    enough) or by customer number.
    """
    options = _memberships(ctx.session, ctx.principal.user.id)
    chosen = choose_membership(body.account, options)
    if chosen is None:
        raise NotFound(
            f"account {body.account} was not found among your accounts",
            what="account",
            id=body.account,
            options=[ms.account.name for ms in options],
        )
    token = _successor(ctx.settings, ctx.principal, account_id=chosen.account_id)
    audit.add(
        ctx.session,
        ctx.principal,
        action="switch_account",
        outcome="ok",
        target=chosen.account.name,
    )
    ctx.session.commit()
    return s.SwitchAccountOut(token=token, account=views.account(chosen.account), role=chosen.role)


@router.post("/me/token", response_model=s.TokenOut, tags=["identity"])
def renew_token(request: Request, principal: Principal = Depends(get_principal)) -> s.TokenOut:
    """A fresh short-lived token for the caller's session, in the token's own account.

    The portal renews before the token expires; the session keeps its sign-in time,
    so no renewal reaches past `SESSION_MAX_HOURS` after it (then: sign in again).
    """
    current = principal.token
    assert current is not None, "get_principal always verifies a token"
    if principal.account_id != current.account_id:
        raise BadRequest(
            f"a token is renewed in its own account; without the {s.ACCOUNT_HEADER} header"
            " (POST /me/switch-account changes account)"
        )
    settings: Settings = request.app.state.settings
    token = _successor(settings, principal, account_id=current.account_id)
    try:  # read back what was signed: the exact expiry, after the session's cap
        renewed = tokens.verify_token(
            settings.token_verification_key(), token, max_session=settings.session_max
        )
    except tokens.TokenExpired:  # the session's last second passed in between
        raise SessionEndedError() from None
    return s.TokenOut(
        token=token,
        expires_at=renewed.expires_at,
        session_ends_at=renewed.authenticated_at + settings.session_max,
    )


def _successor(settings: Settings, principal: Principal, *, account_id: Optional[int]) -> str:
    """A token that continues the caller's session: same sign-in time, same session id.

    Raises:
        SessionEndedError: the session has reached its maximum lifetime.
    """
    current = principal.token
    assert current is not None, "a principal comes from a verified token"
    try:
        return tokens.mint_token(
            settings.token_signing_key(),
            user_id=principal.user.id,
            account_id=account_id,
            channel=current.channel,
            language=principal.user.language,
            ttl=dt.timedelta(minutes=settings.token_ttl_minutes),
            auth_time=current.authenticated_at,
            session_id=current.session_id,
            max_session=settings.session_max,
        )
    except tokens.SessionEnded:
        raise SessionEndedError() from None
