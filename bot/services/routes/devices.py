"""Devices and warranties by service tag, service contracts, software subscriptions."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from typing import Dict, List, Optional

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.services import models as m
from bot.services import schemas as s
from bot.services import views
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.errors import Conflict, InvalidInput
from bot.services.idempotency import run_write
from bot.services.seed import RATES

router = APIRouter(tags=["devices and contracts"])


def _tag(raw: str) -> str:
    tag = s.normalize_service_tag(raw)
    if not re.match(s.SERVICE_TAG, tag):
        raise InvalidInput(
            f"{raw[:40]!r} is not a service tag (7 letters or digits)", field="service_tag"
        )
    return tag


@router.get("/devices", response_model=List[s.DeviceOut])
def devices(ctx: Ctx = Depends(require("list_devices"))) -> List[s.DeviceOut]:
    rows = ctx.session.scalars(
        select(m.Device).filter_by(account_id=ctx.account.id).order_by(m.Device.warranty_end)
    )
    return [views.device(d, ctx.today) for d in rows]


@router.get("/devices/{service_tag}", response_model=s.DeviceOut)
def device(service_tag: str, ctx: Ctx = Depends(require("check_warranty"))) -> s.DeviceOut:
    """Warranty of one device; the tag may be typed in any case, with spaces or dashes."""
    found = ctx.owned(m.Device, "service tag", service_tag=_tag(service_tag))
    return views.device(found, ctx.today)


@router.get("/contract-plans", response_model=List[s.PlanOut])
def plans(ctx: Ctx = Depends(require("list_service_contracts"))) -> List[s.PlanOut]:
    rows = ctx.session.scalars(select(m.ContractPlan).order_by(m.ContractPlan.rank))
    return [
        s.PlanOut(
            code=p.code,
            name=p.name,
            rank=p.rank,
            yearly_price=views.money(_price(ctx, p.yearly_price_cents), ctx.account.currency),
        )
        for p in rows
    ]


@router.get("/contracts", response_model=List[s.ContractOut])
def contracts(ctx: Ctx = Depends(require("list_service_contracts"))) -> List[s.ContractOut]:
    """The account's service contracts, those ending soonest first."""
    rows = ctx.session.scalars(
        select(m.ServiceContract)
        .filter_by(account_id=ctx.account.id)
        .order_by(m.ServiceContract.ends_on)
    )
    return [views.contract(c, ctx.today) for c in rows]


@router.get("/contracts/{contract_number}", response_model=s.ContractOut)
def contract(
    contract_number: str = Path(..., regex=r"^SC-[0-9]{8}$", description="SC- and 8 digits"),
    ctx: Ctx = Depends(require("list_service_contracts")),
) -> s.ContractOut:
    return views.contract(
        ctx.owned(m.ServiceContract, "contract", number=contract_number), ctx.today
    )


def _price(ctx: Ctx, usd_cents: int) -> int:
    return round(usd_cents * RATES.get(ctx.account.currency, 1.0))


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _contracts(ctx: Ctx, devices: List[m.Device], *, lock: bool) -> Dict[int, m.ServiceContract]:
    """The service contracts of `devices` by device id; under row locks when `lock`."""
    query = (
        select(m.ServiceContract)
        .where(m.ServiceContract.device_id.in_([d.id for d in devices]))
        .order_by(m.ServiceContract.id)  # one lock order, so overlapping renewals cannot deadlock
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return {c.device_id: c for c in ctx.session.scalars(query)}


def quote(
    ctx: Ctx, body: s.ContractQuoteIn, kind: str, *, lock: bool = False
) -> s.ContractQuoteOut:
    """Price a renewal or an upgrade of the contracts of `body.service_tags`.

    Args:
        lock: price from the contracts locked until the transaction ends (for the
            write itself: two renewals at once extend a contract twice, not once).
    Raises:
        NotFound: a tag that is not the account's.
        Conflict: a tag without a contract, or an upgrade that is not one.
        InvalidInput: a renewal without a duration.
    """
    plan = ctx.session.get(m.ContractPlan, body.plan)
    if plan is None:
        raise InvalidInput(f"unknown plan {body.plan}", field="plan")
    if kind == "renewal" and body.years is None:
        raise InvalidInput("a renewal needs a duration in years (1-5)", field="years")
    lines = []
    tagged = [
        (tag, ctx.owned(m.Device, "service tag", service_tag=tag))
        for tag in dict.fromkeys(body.service_tags)
    ]
    contracts = _contracts(ctx, [device_row for _, device_row in tagged], lock=lock)
    for tag, device_row in tagged:
        contract = contracts.get(device_row.id)
        if contract is None:
            raise Conflict(f"{tag} has no service contract", reason="no_contract", service_tag=tag)
        if kind == "renewal":
            years = body.years or 1
            new_end = _add_years(max(contract.ends_on, ctx.today), years)
            cents = _price(ctx, plan.yearly_price_cents) * years
        else:
            if plan.rank <= contract.plan.rank:
                raise Conflict(
                    f"{tag} is already on {contract.plan.name}; an upgrade must go above it",
                    reason="not_an_upgrade",
                    service_tag=tag,
                )
            if contract.ends_on < ctx.today:
                raise Conflict(
                    f"{tag}'s contract has expired; renew it instead",
                    reason="contract_expired",
                    service_tag=tag,
                )
            new_end = contract.ends_on
            remaining_years = max(1, math.ceil((contract.ends_on - ctx.today).days / 365))
            cents = _price(ctx, plan.yearly_price_cents - contract.plan.yearly_price_cents)
            cents *= remaining_years
        lines.append(
            s.ContractQuoteLine(
                service_tag=tag,
                contract_number=contract.number,
                current_plan=contract.plan_code,
                current_end=contract.ends_on,
                new_plan=plan.code,
                new_end=new_end,
                price=views.money(cents, ctx.account.currency),
            )
        )
    total = sum(line.price.cents for line in lines)
    return s.ContractQuoteOut(
        kind=kind,
        plan=plan.code,
        years=body.years if kind == "renewal" else None,
        lines=lines,
        total=views.money(total, ctx.account.currency),
    )


@router.post("/contracts/renewal-quotes", response_model=s.ContractQuoteOut)
def renewal_quote(
    body: s.ContractQuoteIn, ctx: Ctx = Depends(require("renew_service_contract"))
) -> s.ContractQuoteOut:
    """Price a renewal without changing anything."""
    return quote(ctx, body, "renewal")


@router.post("/contracts/upgrade-quotes", response_model=s.ContractQuoteOut)
def upgrade_quote(
    body: s.ContractQuoteIn, ctx: Ctx = Depends(require("upgrade_service_contract"))
) -> s.ContractQuoteOut:
    """Price a plan upgrade without changing anything."""
    return quote(ctx, body, "upgrade")


def _apply(ctx: Ctx, body: s.ContractQuoteIn, kind: str) -> s.ContractChangeOut:
    priced = quote(ctx, body, kind, lock=True)
    for line in priced.lines:
        contract = ctx.session.scalar(
            select(m.ServiceContract).filter_by(number=line.contract_number)
        )
        contract.plan_code = line.new_plan
        contract.ends_on = line.new_end
    change = m.ContractChange(
        number=f"p{uuid.uuid4().hex[:11]}",
        account_id=ctx.account.id,
        user_id=ctx.principal.user.id,
        kind=kind,
        plan_code=priced.plan,
        years=priced.years,
        service_tags=[line.service_tag for line in priced.lines],
        total_cents=priced.total.cents,
    )
    ctx.session.add(change)
    ctx.session.flush()
    change.number = f"CC-{change.id:08d}"  # numbered by the row, so concurrent writes never clash
    return s.ContractChangeOut(number=change.number, kind=kind, quote=priced)


def _write(ctx: Ctx, body: s.ContractQuoteIn, kind: str, key: Optional[str]) -> JSONResponse:
    status, out = run_write(
        ctx,
        key=key,
        payload={"kind": kind, **body.dict()},
        target=f"contracts {','.join(body.service_tags)}"[:120],
        act=lambda: _apply(ctx, body, kind),
        status_code=201,
    )
    return JSONResponse(out, status_code=status)


@router.post("/contracts/renewals", response_model=s.ContractChangeOut, status_code=201)
def renew(
    body: s.ContractQuoteIn,
    ctx: Ctx = Depends(require("renew_service_contract")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Renew the contracts of the given tags for `years` on `plan`."""
    return _write(ctx, body, "renewal", idempotency_key)


@router.post("/contracts/upgrades", response_model=s.ContractChangeOut, status_code=201)
def upgrade(
    body: s.ContractQuoteIn,
    ctx: Ctx = Depends(require("upgrade_service_contract")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Move the contracts of the given tags up to `plan` for the rest of their term."""
    return _write(ctx, body, "upgrade", idempotency_key)


@router.get("/subscriptions", response_model=List[s.SubscriptionOut])
def subscriptions(ctx: Ctx = Depends(require("list_subscriptions"))) -> List[m.Subscription]:
    return list(
        ctx.session.scalars(
            select(m.Subscription)
            .filter_by(account_id=ctx.account.id)
            .order_by(m.Subscription.renews_on)
        )
    )
