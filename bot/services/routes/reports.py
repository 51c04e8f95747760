"""Reports (purchase history, spend, order history) for a period, as CSV downloads."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import models as m
from bot.services import schemas as s
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.idempotency import run_write

router = APIRouter(tags=["reports"])
REPORT_NAMES = {
    "purchase_history": "Purchase history",
    "spend": "Spend by month",
    "order_history": "Order history",
}


def _orders(session: Session, report: m.Report) -> List[m.Order]:
    start = dt.datetime.combine(report.starts_on, dt.time.min)
    end = dt.datetime.combine(report.ends_on, dt.time.max)
    return list(
        session.scalars(
            select(m.Order)
            .filter_by(account_id=report.account_id)
            .where(m.Order.placed_at >= start, m.Order.placed_at <= end)
            .order_by(m.Order.placed_at)
        )
    )


def report_table(session: Session, report: m.Report) -> Tuple[List[str], List[Sequence[object]]]:
    """The report's CSV header and rows, computed from the account's data."""
    account = session.get(m.Account, report.account_id)
    currency = account.currency if account else ""
    orders = _orders(session, report)
    if report.type == "order_history":
        header = ["order_number", "placed_on", "status", "channel", "total", "currency"]
        rows: List[Sequence[object]] = [
            (
                o.number,
                o.placed_at.date().isoformat(),
                o.status,
                o.channel,
                f"{sum(li.quantity * li.unit_price_cents for li in o.lines) / 100:.2f}",
                currency,
            )
            for o in orders
        ]
    elif report.type == "purchase_history":
        header = [
            "order_number",
            "placed_on",
            "sku",
            "description",
            "quantity",
            "unit_price",
            "line_total",
            "currency",
        ]
        rows = [
            (
                o.number,
                o.placed_at.date().isoformat(),
                li.sku,
                li.description,
                li.quantity,
                f"{li.unit_price_cents / 100:.2f}",
                f"{li.quantity * li.unit_price_cents / 100:.2f}",
                currency,
            )
            for o in orders
            if o.status != "cancelled"
            for li in o.lines
        ]
    else:
        header = ["month", "orders", "spend", "currency"]
        by_month: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
        for o in orders:
            if o.status == "cancelled":
                continue
            month = by_month[o.placed_at.strftime("%Y-%m")]
            month[0] += 1
            month[1] += sum(li.quantity * li.unit_price_cents for li in o.lines)
        rows = [(k, v[0], f"{v[1] / 100:.2f}", currency) for k, v in sorted(by_month.items())]
    return header, rows


def _out(ctx: Ctx, report: m.Report) -> s.ReportOut:
    _, rows = report_table(ctx.session, report)
    url, expires = ctx.link("report", report.id)
    filename = f"{report.type}-{report.starts_on}-{report.ends_on}.csv"
    return s.ReportOut(
        id=report.id,
        type=report.type,
        starts_on=report.starts_on,
        ends_on=report.ends_on,
        rows=len(rows),
        link=s.Link(url=url, expires_at=expires, filename=filename),
    )


@router.get("/reports", response_model=List[s.ReportTypeOut])
def report_types(ctx: Ctx = Depends(require("list_reports"))) -> List[s.ReportTypeOut]:
    """The reports this person may run here."""
    return [s.ReportTypeOut(type=k, name=v) for k, v in REPORT_NAMES.items()]


@router.post("/reports", response_model=s.ReportOut, status_code=201)
def generate_report(
    body: s.ReportIn,
    ctx: Ctx = Depends(require("generate_report")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    def act() -> s.ReportOut:
        report = m.Report(
            account_id=ctx.account.id,
            user_id=ctx.principal.user.id,
            type=body.type,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
        )
        ctx.session.add(report)
        ctx.session.flush()
        return _out(ctx, report)

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload=body.dict(),
        target=f"report {body.type}",
        act=act,
        status_code=201,
    )
    return JSONResponse(out, status_code=status)


@router.get("/reports/{report_id}", response_model=s.ReportOut)
def report(
    report_id: s.Id = Path(..., description="the report's id"),
    ctx: Ctx = Depends(require("list_reports")),
) -> s.ReportOut:
    """A generated report again, with a fresh link."""
    return _out(ctx, ctx.owned(m.Report, "report", id=report_id))
