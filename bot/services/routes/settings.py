"""Account and company details, the caller's profile, addresses, payment types."""

from __future__ import annotations

from typing import List, Optional

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.services import models as m
from bot.services import schemas as s
from bot.services import views
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.errors import InvalidInput
from bot.services.idempotency import run_write

router = APIRouter(tags=["settings"])


def _changes(body: s.Strict) -> dict:
    changes = {k: v for k, v in body.dict(exclude_unset=True).items() if v is not None}
    if not changes:
        raise InvalidInput("nothing to update: name at least one field")
    return changes


@router.get("/account", response_model=s.AccountOut)
def account(ctx: Ctx = Depends(require("account_info"))) -> s.AccountOut:
    return views.account(ctx.account)


@router.patch("/account", response_model=s.ChangeOut)
def update_company(
    body: s.CompanyUpdate,
    ctx: Ctx = Depends(require("update_company")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    changes = _changes(body)

    def act() -> s.ChangeOut:
        for field, value in changes.items():
            setattr(ctx.account, field, value)
        return s.ChangeOut(updated=changes)

    status, out = run_write(
        ctx, key=idempotency_key, payload=changes, target=f"account {ctx.account.name}", act=act
    )
    return JSONResponse(out, status_code=status)


@router.get("/profile", response_model=s.Profile)
def profile(ctx: Ctx = Depends(require("show_profile"))) -> m.User:
    return ctx.principal.user


@router.patch("/profile", response_model=s.ChangeOut)
def update_profile(
    body: s.ProfileUpdate,
    ctx: Ctx = Depends(require("update_profile")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Update the caller's own details (never anyone else's)."""
    changes = _changes(body)

    def act() -> s.ChangeOut:
        for field, value in changes.items():
            setattr(ctx.principal.user, field, value)
        return s.ChangeOut(updated=changes)

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload=changes,
        target=f"user {ctx.principal.user.email}",
        act=act,
    )
    return JSONResponse(out, status_code=status)


@router.get("/addresses", response_model=List[s.AddressOut])
def addresses(ctx: Ctx = Depends(require("show_addresses"))) -> List[m.Address]:
    return list(
        ctx.session.scalars(
            select(m.Address).filter_by(account_id=ctx.account.id).order_by(m.Address.id)
        )
    )


@router.get("/addresses/{address_id}", response_model=s.AddressOut)
def address(
    address_id: s.Id = Path(..., description="the address's id"),
    ctx: Ctx = Depends(require("show_addresses")),
) -> m.Address:
    return ctx.owned(m.Address, "address", id=address_id)


@router.post("/addresses", response_model=s.CreatedAddress, status_code=201)
def add_address(
    body: s.AddressIn,
    ctx: Ctx = Depends(require("add_address")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    def act() -> s.CreatedAddress:
        address = m.Address(account_id=ctx.account.id, **body.dict())
        ctx.session.add(address)
        ctx.session.flush()
        return s.CreatedAddress.from_orm(address)

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload=body.dict(),
        target=f"address {body.label}",
        act=act,
        status_code=201,
    )
    return JSONResponse(out, status_code=status)


@router.get("/payment-methods", response_model=List[s.PaymentMethodOut])
def payment_methods(ctx: Ctx = Depends(require("list_payment_methods"))) -> list:
    rows = ctx.session.scalars(
        select(m.PaymentMethod).filter_by(account_id=ctx.account.id).order_by(m.PaymentMethod.id)
    )
    return [views.payment_method(p) for p in rows]


@router.get("/quick-checkout", response_model=List[s.QuickCheckoutOut])
def quick_checkout(ctx: Ctx = Depends(require("list_quick_checkout"))) -> list:
    rows = ctx.session.scalars(
        select(m.QuickCheckoutProfile)
        .filter_by(account_id=ctx.account.id)
        .order_by(m.QuickCheckoutProfile.id)
    )
    return [
        s.QuickCheckoutOut(
            id=q.id,
            name=q.name,
            shipping_method=q.shipping_method,
            address=s.AddressOut.from_orm(q.address),
            payment_method=views.payment_method(q.payment_method),
        )
        for q in rows
    ]
