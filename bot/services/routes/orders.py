"""Quotes, online orders, and the cart (reorder puts an earlier order's lines in it)."""

from __future__ import annotations

import datetime as dt
from typing import List, Optional

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.services import models as m
from bot.services import schemas as s
from bot.services import views
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.errors import Conflict
from bot.services.idempotency import run_write

router = APIRouter(tags=["orders"])
OrderNumber = Path(..., regex=s.ORDER_NUMBER, description="9 digits")


@router.get("/quotes", response_model=List[s.QuoteOut])
def quotes(ctx: Ctx = Depends(require("show_quotes"))) -> List[s.QuoteOut]:
    rows = ctx.session.scalars(
        select(m.Quote).filter_by(account_id=ctx.account.id).order_by(m.Quote.created_on.desc())
    )
    return [
        s.QuoteOut(
            number=q.number,
            description=q.description,
            total=views.money(q.total_cents, ctx.account.currency),
            created_on=q.created_on,
            expires_on=q.expires_on,
            status="expired" if q.status == "open" and q.expires_on < ctx.today else q.status,
        )
        for q in rows
    ]


@router.get("/orders", response_model=List[s.OrderOut])
def orders(
    days: s.Days = Query(30, description="orders placed in the last N days"),
    channel: Optional[str] = Query(None, regex="^(online|phone)$"),
    ctx: Ctx = Depends(require("list_recent_orders")),
) -> List[s.OrderOut]:
    """Orders placed in the last `days` days, newest first."""
    since = dt.datetime.combine(ctx.today - dt.timedelta(days=days), dt.time.min)
    query = (
        select(m.Order)
        .filter_by(account_id=ctx.account.id)
        .where(m.Order.placed_at >= since)
        .order_by(m.Order.placed_at.desc())
    )
    if channel:
        query = query.where(m.Order.channel == channel)
    return [views.order(o, ctx.account.currency) for o in ctx.session.scalars(query)]


@router.get("/orders/{order_number}", response_model=s.OrderOut)
def order(
    order_number: str = OrderNumber, ctx: Ctx = Depends(require("order_status"))
) -> s.OrderOut:
    found = ctx.owned(m.Order, "order", number=order_number)
    return views.order(found, ctx.account.currency)


def _cart(ctx: Ctx, added: List[m.CartItem] = ()) -> s.CartOut:  # type: ignore[assignment]
    items = list(
        ctx.session.scalars(
            select(m.CartItem)
            .filter_by(account_id=ctx.account.id, user_id=ctx.principal.user.id)
            .order_by(m.CartItem.id)
        )
    )
    currency = ctx.account.currency
    return s.CartOut(
        items=[views.cart_item(i, currency) for i in items],
        total=views.money(sum(i.quantity * i.unit_price_cents for i in items), currency),
        added=[views.cart_item(i, currency) for i in added],
    )


@router.get("/cart", response_model=s.CartOut)
def cart(ctx: Ctx = Depends(require("view_cart"))) -> s.CartOut:
    return _cart(ctx)


@router.post("/cart/reorder", response_model=s.CartOut)
def reorder(
    body: s.ReorderIn,
    ctx: Ctx = Depends(require("reorder")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Add every line of an earlier order to the caller's cart, at today's price."""
    source = ctx.owned(m.Order, "order", number=body.order_number)

    def act() -> s.CartOut:
        if source.status == "cancelled" and not source.lines:
            raise Conflict("that order has no lines to add", reason="empty_order")
        added = []
        for line in source.lines:
            item = m.CartItem(
                account_id=ctx.account.id,
                user_id=ctx.principal.user.id,
                sku=line.sku,
                description=line.description,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                source_order_number=body.order_number,
            )
            ctx.session.add(item)
            added.append(item)
        ctx.session.flush()
        return _cart(ctx, added)

    status, out = run_write(
        ctx, key=idempotency_key, payload=body.dict(), target=f"order {body.order_number}", act=act
    )
    return JSONResponse(out, status_code=status)
