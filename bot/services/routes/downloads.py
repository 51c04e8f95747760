"""The files behind signed links: invoice PDFs, documents, report CSVs."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.policy import load_table
from bot.services import downloads
from bot.services import models as m
from bot.services.context import (
    Principal,
    client_address,
    entered_channel,
    get_session,
    site_admins,
)
from bot.services.errors import Forbidden, NotFound, Unauthorized
from bot.services.routes.reports import REPORT_NAMES, report_table

router = APIRouter(tags=["downloads"])


def _invoice_pdf(session: Session, invoice: m.Invoice) -> bytes:
    account = session.get(m.Account, invoice.account_id)
    assert account is not None
    money = lambda cents: f"{cents / 100:,.2f} {account.currency}"  # noqa: E731
    table = [("SKU", "Description", "Qty", "Unit price", "Amount")]
    if invoice.order:
        table += [
            (
                li.sku,
                li.description,
                str(li.quantity),
                money(li.unit_price_cents),
                money(li.quantity * li.unit_price_cents),
            )
            for li in invoice.order.lines
        ]
    else:
        table += [
            (
                "SERVICES",
                "Professional services",
                "1",
                money(invoice.amount_cents),
                money(invoice.amount_cents),
            )
        ]
    return downloads.render_pdf(
        f"Invoice {invoice.number}",
        [
            account.legal_name,
            f"Customer number {account.customer_number}",
            f"Issued {invoice.issued_on.isoformat()}, due {invoice.due_on.isoformat()}",
            f"Order {invoice.order.number}" if invoice.order else "",
            f"Total {money(invoice.amount_cents)}",
            "Paid" if invoice.paid_at else "Payment due by the date above",
        ],
        table,
    )


@router.get(
    "/downloads/{token}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "text/csv": {}}}},
)
def download(token: str, request: Request, session: Session = Depends(get_session)) -> Response:
    """Serve a signed link's file to the person it was made for, while they still may see it.

    An expired or forged link is 401; a link whose person has since lost access (left
    the account, deactivated, a role or setting that no longer allows the file) is 403.
    Every refusal is audited. The file is never stored by a cache on the way.
    """
    audit_log = request.app.state.audit
    try:
        target = downloads.open_link(request.app.state.settings, token)
    except downloads.LinkError as exc:
        audit_log.submit_anonymous(
            channel=entered_channel(request),
            action="download",
            outcome="denied",
            detail={"reason": "link_invalid", "address": client_address(request)},
        )
        raise Unauthorized(str(exc)) from None
    holder = _holder(session, target, entered_channel(request))
    shown = f"{target.kind} {target.object_id}"
    if holder is None:
        audit_log.submit_anonymous(
            channel=entered_channel(request),
            action="download",
            target=shown,
            outcome="denied",
            detail={"reason": "no_access", "user_id": target.user_id},
        )
        raise Unauthorized("this download link is no longer valid; ask for a new one")
    decision = load_table().decide(downloads.CAPABILITY[target.kind], holder.subject())
    if not decision.allowed:
        audit_log.submit(
            holder,
            action="download",
            target=shown,
            outcome="denied",
            detail={"reason": decision.reason.value if decision.reason else ""},
        )
        raise Forbidden(decision, site_admins(session, target.account_id))
    model = {"invoice": m.Invoice, "document": m.Document, "report": m.Report}[target.kind]
    obj = session.get(model, target.object_id)
    if obj is None or obj.account_id != target.account_id:
        raise NotFound("that file was not found", what=target.kind, id=str(target.object_id))
    if isinstance(obj, m.Invoice):
        body, media, name = _invoice_pdf(session, obj), "application/pdf", f"{obj.number}.pdf"
    elif isinstance(obj, m.Document):
        body = downloads.render_pdf(obj.title, obj.body.splitlines())
        media, name = "application/pdf", f"document-{obj.id}.pdf"
    else:
        header, rows = report_table(session, obj)
        body, media = downloads.render_csv(header, rows), "text/csv; charset=utf-8"
        name = f"{obj.type}-{obj.starts_on}-{obj.ends_on}.csv"
        assert obj.type in REPORT_NAMES
    audit_log.submit(holder, action="download", target=shown, outcome="ok")
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _holder(session: Session, target: downloads.LinkTarget, channel: str) -> Optional[Principal]:
    """The link's person in the link's account, if both are still active there."""
    user = session.get(m.User, target.user_id)
    membership = session.scalar(
        select(m.Membership).filter_by(
            user_id=target.user_id, account_id=target.account_id, status="active"
        )
    )
    if user is None or user.status != "active" or membership is None:
        return None
    return Principal(user=user, account=membership.account, membership=membership, channel=channel)
