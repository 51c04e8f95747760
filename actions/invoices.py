"""Invoices (list, details, PDF link, payment with a saved card) and quotes.

Invoices are named by the `invoice_number` entity, normalised here ("inv 10000003"
-> "INV-10000003"); without one, the invoice of a mentioned `order_number` is used.
Paying shows the amount and the card first and waits for "yes" (see
`actions.changes`): the card is the first saved, unexpired card unless the person
names one by its last four digits.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, List, Optional

from actions import i18n, view
from actions.base import AccountAction, ListAction, Turn
from actions.changes import propose, register
from actions.payments import is_expired
from bot.chat.replies import CardData, ConfirmationData, Item, Link, ListData
from bot.client import errors
from bot.services import schemas

INVOICE_STATUSES = ("unpaid", "paid", "overdue", "all")
DEFAULT_STATUS = "unpaid"
_INVOICE_NUMBER = re.compile(r"^\s*INV[\s\-]?([0-9]{8})\s*$", re.IGNORECASE)
_FOUR_DIGITS = re.compile(r"(?<![\d\-])\d{4}(?![\d\-])")


def normalize_invoice_number(raw: str) -> Optional[str]:
    """'inv 10000003' / 'INV10000003' -> 'INV-10000003'; None when it is no invoice number."""
    found = _INVOICE_NUMBER.match(raw)
    return f"INV-{found.group(1)}" if found else None


def requested_status(turn: Turn) -> str:
    value = next(iter(turn.tracker.get_latest_entity_values("invoice_status")), None)
    return value if value in INVOICE_STATUSES else DEFAULT_STATUS


def invoice_line(turn: Turn, invoice: schemas.InvoiceOut) -> str:
    return (
        f"• {invoice.number} · {turn.money(invoice.amount)} · {turn.day(invoice.due_on)} · "
        f"{i18n.status(invoice.status, turn.language)}"
    )


def invoice_item(turn: Turn, invoice: schemas.InvoiceOut, *, details: bool = False) -> Item:
    """An invoice as data: amount and due date (issue date, order and payment for its card)."""
    paid = turn.day(invoice.paid_at) if invoice.paid_at is not None else None
    more = (
        {
            "issued_on": turn.day(invoice.issued_on),
            "order_number": invoice.order_number or i18n.missing("none", turn.language),
            "paid_on": paid,
        }
        if details
        else {}
    )
    return Item(
        id=invoice.number,
        title=invoice.number,
        status=view.status(turn, invoice.status),
        fields=view.fields(
            turn,
            amount=turn.money(invoice.amount),
            due_on=None if details and paid else turn.day(invoice.due_on),
            **more,
        ),
    )


def card_list(cards: List[schemas.PaymentMethodOut], language: str) -> str:
    return ", ".join(i18n.card(c, language) for c in cards)


async def wanted_invoice(turn: Turn) -> Optional[str]:
    """The invoice the person means, or None after saying what is missing."""
    raw = next(iter(turn.tracker.get_latest_entity_values("invoice_number")), None)
    if raw:
        number = normalize_invoice_number(raw)
        if number is None:
            turn.say("utter_ask_invoice_number")
        return number
    order = next(iter(turn.tracker.get_latest_entity_values("order_number")), None)
    if order:
        listed = await turn.session.invoices("all")
        match = next((i for i in listed.invoices if i.order_number == order.strip()), None)
        if match is None:
            turn.say("utter_no_invoice_for_order", order=order.strip())
        return match.number if match else None
    turn.say("utter_ask_invoice_number")
    return None


class ActionShowInvoices(AccountAction):
    """Invoices of one status (unpaid by default, overdue ones included) with their total."""

    capability = "show_invoices"

    def name(self) -> str:
        return "action_show_invoices"

    async def act(self, turn: Turn) -> None:
        status = requested_status(turn)
        listed = await turn.session.invoices(status)
        if not listed.invoices:
            turn.say(f"utter_no_invoices_{status}", account=turn.account.name)
            return
        data = ListData(
            "invoices", turn.account.name, [invoice_item(turn, i) for i in listed.invoices]
        )
        turn.show(
            f"utter_invoices_{status}",
            data,
            account=turn.account.name,
            count=listed.count,
            total=turn.money(listed.total),
            invoices="\n".join(invoice_line(turn, i) for i in listed.invoices),
        )


class ActionInvoiceDetails(AccountAction):
    capability = "invoice_details"

    def name(self) -> str:
        return "action_invoice_details"

    async def act(self, turn: Turn) -> None:
        number = await wanted_invoice(turn)
        if number is None:
            return
        invoice = await turn.session.invoice(number)
        values: Dict[str, Any] = {
            "number": invoice.number,
            "amount": turn.money(invoice.amount),
            "issued": turn.day(invoice.issued_on),
            "order": invoice.order_number or i18n.missing("none", turn.language),
        }
        card = CardData("invoice", invoice_item(turn, invoice, details=True))
        if invoice.paid_at is not None:
            turn.show("utter_invoice_details_paid", card, paid=turn.day(invoice.paid_at), **values)
            return
        turn.show(
            "utter_invoice_details",
            card,
            status=i18n.status(invoice.status, turn.language),
            due=turn.day(invoice.due_on),
            **values,
        )


class ActionDownloadInvoice(AccountAction):
    """A signed, expiring link to the invoice's PDF copy."""

    capability = "download_invoice"

    def name(self) -> str:
        return "action_download_invoice"

    async def act(self, turn: Turn) -> None:
        number = await wanted_invoice(turn)
        if number is None:
            return
        link = await turn.session.invoice_pdf(number)
        left = link.expires_at - dt.datetime.now(dt.timezone.utc)
        pdf = Link(label=i18n.field_label("download", turn.language), url=link.url)
        turn.show(
            "utter_invoice_download",
            CardData("invoice_pdf", Item(id=number, title=link.filename, link=pdf)),
            number=number,
            url=link.url,
            filename=link.filename,
            minutes=max(1, round(left.total_seconds() / 60)),
        )


class ActionPayInvoice(AccountAction):
    """Show what would be paid with which card, then wait for "yes"."""

    capability = "pay_invoice"

    def name(self) -> str:
        return "action_pay_invoice"

    async def act(self, turn: Turn) -> None:
        number = await wanted_invoice(turn)
        if number is None:
            return
        invoice = await turn.session.invoice(number)
        if invoice.paid_at is not None:
            turn.say("utter_invoice_already_paid", number=number, paid=turn.day(invoice.paid_at))
            return
        card = await self._card(turn)
        if card is None:
            return
        summary = ConfirmationData(
            "pay_invoice",
            invoice.number,
            view.fields(
                turn,
                invoice_number=invoice.number,
                amount=turn.money(invoice.amount),
                status=i18n.status(invoice.status, turn.language),
                due_on=turn.day(invoice.due_on),
                card=i18n.card(card, turn.language),
            ),
        )
        turn.show(
            "utter_pay_invoice_summary",
            summary,
            number=invoice.number,
            amount=turn.money(invoice.amount),
            status=i18n.status(invoice.status, turn.language),
            due=turn.day(invoice.due_on),
            card=i18n.card(card, turn.language),
        )
        propose(
            turn,
            "pay_invoice",
            {
                "invoice_number": invoice.number,
                "payment_method_id": card.id,
                "card": i18n.card(card, turn.language),
            },
        )

    async def _card(self, turn: Turn) -> Optional[schemas.PaymentMethodOut]:
        """The named card (last four digits in the message), else the first unexpired one."""
        cards = [c for c in await turn.session.payment_methods() if c.kind == "card"]
        today = dt.date.today()
        mentioned = set(_FOUR_DIGITS.findall(turn.tracker.latest_message.get("text") or ""))
        if mentioned:
            named = [c for c in cards if c.last4 in mentioned]
            if not named:
                shown = card_list(cards, turn.language) or i18n.missing("no_cards", turn.language)
                turn.say("utter_card_not_found", cards=shown)
                return None
            if is_expired(named[0], today):
                turn.say("utter_card_expired", card=i18n.card(named[0], turn.language))
                return None
            return named[0]
        usable = [c for c in cards if not is_expired(c, today)]
        if not usable:
            turn.say("utter_no_usable_card")
            return None
        return usable[0]


@register("pay_invoice", capability="pay_invoice")
async def pay_invoice(turn: Turn, params: Dict[str, Any], key: str) -> None:
    number = params["invoice_number"]
    try:
        paid = await turn.session.pay_invoice(
            number, int(params["payment_method_id"]), idempotency_key=key
        )
    except errors.Conflict as conflict:
        if conflict.reason != "already_paid":
            raise
        # Paid in the meantime (another person, another channel): nothing left to do.
        invoice = await turn.session.invoice(number)
        paid_on = (
            turn.day(invoice.paid_at)
            if invoice.paid_at
            else i18n.missing("unknown_date", turn.language)
        )
        turn.say("utter_invoice_already_paid", number=number, paid=paid_on)
        return
    turn.say(
        "utter_invoice_paid",
        number=paid.invoice.number,
        amount=turn.money(paid.amount),
        card=i18n.card(paid.payment_method, turn.language),
        paid=turn.day(paid.paid_at),
    )


class ActionShowQuotes(ListAction):
    capability = "show_quotes"
    response, empty_response, lines_field = "utter_quotes", "utter_no_quotes", "quotes"
    kind = "quotes"

    def name(self) -> str:
        return "action_show_quotes"

    async def fetch(self, turn: Turn) -> List[schemas.QuoteOut]:
        return await turn.session.quotes()

    def line(self, turn: Turn, item: schemas.QuoteOut) -> str:
        return (
            f"• {item.number} · {item.description} · {turn.money(item.total)} · "
            f"{turn.day(item.expires_on)} · {i18n.status(item.status, turn.language)}"
        )

    def item(self, turn: Turn, item: schemas.QuoteOut) -> Item:
        return Item(
            id=item.number,
            title=item.description,
            status=view.status(turn, item.status),
            fields=view.fields(
                turn, total=turn.money(item.total), expires_on=turn.day(item.expires_on)
            ),
        )
