"""The files behind signed links: invoice PDFs, documents, report CSVs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from bot.services import downloads
from bot.services import models as m
from bot.services.context import get_session
from bot.services.errors import NotFound, Unauthorized
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
    """Serve a signed link's file; expired or forged links get 401, never the file."""
    try:
        target = downloads.open_link(request.app.state.settings, token)
    except downloads.LinkError as exc:
        raise Unauthorized(str(exc)) from None
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
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
