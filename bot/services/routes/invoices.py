"""Invoices: list by status with totals, details, a PDF link, payment with a saved card."""

from __future__ import annotations

import datetime as dt
from typing import Optional

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from bot.services import models as m
from bot.services import schemas as s
from bot.services import views
from bot.services.context import Ctx, IdempotencyKey, require
from bot.services.errors import Conflict
from bot.services.idempotency import run_write

router = APIRouter(tags=["invoices"])
InvoiceNumber = Path(..., regex=s.INVOICE_NUMBER, description="INV- and 8 digits")


@router.get("/invoices", response_model=s.InvoiceList)
def invoices(
    status: str = Query(
        "all", regex="^(unpaid|paid|overdue|all)$", description="unpaid includes overdue ones"
    ),
    ctx: Ctx = Depends(require("show_invoices")),
) -> s.InvoiceList:
    """Invoices with the given status, those due soonest first, and their total."""
    rows = ctx.session.scalars(
        select(m.Invoice).filter_by(account_id=ctx.account.id).order_by(m.Invoice.due_on)
    )
    shown = [views.invoice(i, ctx.account.currency, ctx.today) for i in rows]
    if status == "unpaid":
        shown = [i for i in shown if i.status in ("unpaid", "overdue")]
    elif status != "all":
        shown = [i for i in shown if i.status == status]
    total = sum(i.amount.cents for i in shown)
    return s.InvoiceList(
        invoices=shown, total=views.money(total, ctx.account.currency), count=len(shown)
    )


@router.get("/invoices/{invoice_number}", response_model=s.InvoiceOut)
def invoice(
    invoice_number: str = InvoiceNumber, ctx: Ctx = Depends(require("invoice_details"))
) -> s.InvoiceOut:
    found = ctx.owned(m.Invoice, "invoice", number=invoice_number)
    return views.invoice(found, ctx.account.currency, ctx.today)


@router.get("/invoices/{invoice_number}/pdf", response_model=s.Link)
def invoice_pdf_link(
    invoice_number: str = InvoiceNumber, ctx: Ctx = Depends(require("download_invoice"))
) -> s.Link:
    """A signed, expiring link to the invoice's PDF copy."""
    found = ctx.owned(m.Invoice, "invoice", number=invoice_number)
    url, expires = ctx.link("invoice", found.id)
    return s.Link(url=url, expires_at=expires, filename=f"{invoice_number}.pdf")


@router.post("/invoices/{invoice_number}/payments", response_model=s.PaymentOut)
def pay_invoice(
    body: s.PaymentIn,
    invoice_number: str = InvoiceNumber,
    ctx: Ctx = Depends(require("pay_invoice")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Pay the whole amount of an unpaid invoice with one of the account's saved cards."""
    found = ctx.owned(m.Invoice, "invoice", number=invoice_number)
    card = ctx.owned(m.PaymentMethod, "payment method", id=body.payment_method_id)

    def act() -> s.PaymentOut:
        # Checked on the locked row: of two payments at once (whatever their keys), the
        # second waits here for the first and then finds the invoice paid.
        invoice = ctx.locked(found)
        if invoice.paid_at is not None:
            raise Conflict(f"{invoice_number} is already paid", reason="already_paid")
        if (
            card.exp_year
            and card.exp_month
            and (card.exp_year, card.exp_month) < (ctx.today.year, ctx.today.month)
        ):
            raise Conflict(
                "that card has expired; choose another payment type", reason="card_expired"
            )
        now = dt.datetime.utcnow().replace(microsecond=0)
        invoice.paid_at = now
        ctx.session.add(
            m.Payment(
                invoice_id=invoice.id,
                payment_method_id=card.id,
                user_id=ctx.principal.user.id,
                amount_cents=invoice.amount_cents,
                paid_at=now,
            )
        )
        ctx.session.flush()
        return s.PaymentOut(
            invoice=views.invoice(invoice, ctx.account.currency, ctx.today),
            amount=views.money(invoice.amount_cents, ctx.account.currency),
            payment_method=views.payment_method(card),
            paid_at=now,
        )

    status, out = run_write(
        ctx,
        key=idempotency_key,
        payload={"invoice": invoice_number, **body.dict()},
        target=f"invoice {invoice_number}",
        act=act,
    )
    return JSONResponse(out, status_code=status)
