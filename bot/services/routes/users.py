"""User management for site admins, and SSO requests to the account team."""

from __future__ import annotations

from typing import List, Optional

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.services import models as m
from bot.services import schemas as s
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.errors import Conflict, NotFound
from bot.services.idempotency import run_write

router = APIRouter(tags=["users"])
CUSTOMER_ROLES = ("site_admin", "buyer", "shopper")


def _invited_as(email: str) -> str:
    return email.split("@")[0]


def _user_out(ms: m.Membership) -> s.UserOut:
    # Until a person joins, the account knows them only by the address it invited: the
    # name they carry elsewhere (their profile, another account's invitation) is not its own.
    name = _invited_as(ms.user.email) if ms.status == "invited" else ms.user.name
    return s.UserOut(id=ms.user.id, email=ms.user.email, name=name, role=ms.role, status=ms.status)


def _membership(ctx: Ctx, user_id: int) -> m.Membership:
    """The account's membership of `user_id`; another account's user is 'not found'.

    A missing user and another account's cost the same two queries; only the
    latter is audited, after the answer (as `Ctx.owned` does).
    """
    ms = ctx.session.scalar(
        select(m.Membership)
        .filter_by(user_id=user_id, account_id=ctx.account.id)
        .where(m.Membership.role.in_(CUSTOMER_ROLES))
    )
    if ms is not None:
        return ms
    if ctx.session.scalar(select(m.User.id).filter_by(id=user_id)) is not None:
        ctx.probe(f"user {user_id}")
    raise NotFound(f"user {user_id} was not found", what="user", id=str(user_id))


def _not_self(ctx: Ctx, ms: m.Membership, what: str) -> None:
    if ms.user_id == ctx.principal.user.id:
        raise Conflict(f"you cannot {what} yourself; ask another site admin", reason="self_change")


@router.get("/users", response_model=List[s.UserOut])
def list_users(ctx: Ctx = Depends(require("list_users"))) -> List[s.UserOut]:
    rows = ctx.session.scalars(
        select(m.Membership)
        .filter_by(account_id=ctx.account.id)
        .where(m.Membership.role.in_(CUSTOMER_ROLES))
        .order_by(m.Membership.id)
    )
    return [_user_out(ms) for ms in rows]


@router.post("/users/invitations", response_model=s.UserChangeOut, status_code=201)
def invite_user(
    body: s.InviteIn,
    ctx: Ctx = Depends(require("invite_user")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Invite an e-mail address to the account with a role.

    The answer depends only on what this account already knows: one of its users
    is "already a member", someone of its vendor account team "already has
    access"; any other address (a new one, another account's user, anyone else
    at the vendor) gets the same invitation, named as the inviter named it.
    """
    email = body.email.lower()

    def act() -> s.UserChangeOut:
        user = ctx.session.scalar(select(m.User).filter_by(email=email))
        if user is None:
            user = m.User(email=email, name=body.name or _invited_as(email), status="invited")
            ctx.session.add(user)
            ctx.session.flush()
        here = ctx.session.scalar(
            select(m.Membership).filter_by(user_id=user.id, account_id=ctx.account.id)
        )
        if here is not None and here.role in CUSTOMER_ROLES:
            raise Conflict(f"{email} is already a user of this account", reason="already_member")
        if here is not None:
            raise Conflict(
                f"{email} is on this account's team at the vendor and already has access",
                reason="account_team",
            )
        ms = m.Membership(
            user_id=user.id, account_id=ctx.account.id, role=body.role, status="invited"
        )
        ctx.session.add(ms)
        ctx.session.flush()
        return s.UserChangeOut(**{**_user_out(ms).dict(), "name": body.name or _invited_as(email)})

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload={"email": email, "role": body.role},
        target=f"user {email}",
        act=act,
        status_code=201,
    )
    return JSONResponse(out, status_code=status)


@router.patch("/users/{user_id}", response_model=s.UserChangeOut)
def change_role(
    body: s.RoleChangeIn,
    user_id: s.Id = Path(..., description="the user's id"),
    ctx: Ctx = Depends(require("change_user_role")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    ms = _membership(ctx, user_id)

    def act() -> s.UserChangeOut:
        _not_self(ctx, ms, "change the role of")
        locked = ctx.locked(ms)
        locked.role = body.role
        return s.UserChangeOut(**_user_out(locked).dict())

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload={"user": user_id, "role": body.role},
        target=f"user {ms.user.email}",
        act=act,
    )
    return JSONResponse(out, status_code=status)


@router.post("/users/{user_id}/deactivate", response_model=s.UserChangeOut)
def deactivate_user(
    user_id: s.Id = Path(..., description="the user's id"),
    ctx: Ctx = Depends(require("deactivate_user")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    ms = _membership(ctx, user_id)

    def act() -> s.UserChangeOut:
        _not_self(ctx, ms, "deactivate")
        locked = ctx.locked(ms)  # two deactivations at once: the second finds it done
        if locked.status == "deactivated":
            raise Conflict(f"{ms.user.email} is already deactivated", reason="already_done")
        locked.status = "deactivated"
        return s.UserChangeOut(**_user_out(locked).dict())

    status, out = run_write(
        ctx, key=idempotency_key, payload={"user": user_id}, target=f"user {ms.user.email}", act=act
    )
    return JSONResponse(out, status_code=status)


@router.post("/users/{user_id}/reactivate", response_model=s.UserChangeOut)
def reactivate_user(
    user_id: s.Id = Path(..., description="the user's id"),
    ctx: Ctx = Depends(require("reactivate_user")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Undo a deactivation: the person signs in to this account again with their old role."""
    ms = _membership(ctx, user_id)

    def act() -> s.UserChangeOut:
        locked = ctx.locked(ms)
        if locked.status != "deactivated":
            raise Conflict(f"{ms.user.email} is not deactivated", reason="not_deactivated")
        locked.status = "active"
        return s.UserChangeOut(**_user_out(locked).dict())

    status, out = run_write(
        ctx, key=idempotency_key, payload={"user": user_id}, target=f"user {ms.user.email}", act=act
    )
    return JSONResponse(out, status_code=status)


@router.post("/sso-requests", response_model=s.SsoRequestOut, status_code=201)
def request_sso(
    body: s.SsoRequestIn,
    ctx: Ctx = Depends(require("request_sso")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """SSO is set up by the account team: this files the request with them."""

    def act() -> s.SsoRequestOut:
        request = m.SsoRequest(
            account_id=ctx.account.id,
            user_id=ctx.principal.user.id,
            identity_provider=body.identity_provider,
            note=body.note,
        )
        ctx.session.add(request)
        ctx.session.flush()
        team = ctx.session.scalars(
            select(m.AccountTeamContact)
            .filter_by(account_id=ctx.account.id)
            .order_by(m.AccountTeamContact.id)
        )
        return s.SsoRequestOut(
            id=request.id,
            identity_provider=request.identity_provider,
            status=request.status,
            account_team=[s.TeamContactOut.from_orm(t) for t in team],
        )

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload=body.dict(),
        target=f"sso {body.identity_provider}",
        act=act,
        status_code=201,
    )
    return JSONResponse(out, status_code=status)
