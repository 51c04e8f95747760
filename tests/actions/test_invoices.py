"""Invoice and quote actions against the real services: responses, slots and payments made.

The demo world is shared by the whole test session. The only invoice paid here is
Acme's INV-10000004 (other tests pay INV-10000003 and INV-10000005); it is put back
to unpaid afterwards, directly in the database, because paying cannot be undone
through the services.
"""

from __future__ import annotations

import datetime as dt
from typing import List, Tuple

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from actions import i18n
from actions.changes import ActionConfirmChange
from actions.invoices import (
    ActionDownloadInvoice,
    ActionInvoiceDetails,
    ActionPayInvoice,
    ActionShowInvoices,
    ActionShowQuotes,
    normalize_invoice_number,
)
from bot.services import models as m
from bot.services import schemas
from tests.actions.harness import field_labels, field_values

ACME, GLOBEX = "Acme Corporation", "Globex México"
BEN = "ben.buyer@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
LENA = "lena.buyer@initech.example"
HANNAH = "hannah@home.example"
PAID_HERE = "INV-10000004"


def entity(name: str, value: str) -> dict:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def invoices_of(services, account: str) -> List[m.Invoice]:
    with Session(services.engine) as session:
        query = select(m.Invoice).filter_by(account_id=services.account_id(account))
        return list(session.scalars(query.order_by(m.Invoice.due_on)))


def invoice_state(services, number: str) -> Tuple[int, bool]:
    """(payments of the invoice, whether it is marked paid)."""
    with Session(services.engine) as session:
        invoice = session.scalar(select(m.Invoice).filter_by(number=number))
        payments = session.scalar(
            select(func.count()).select_from(m.Payment).filter_by(invoice_id=invoice.id)
        )
        return int(payments), invoice.paid_at is not None


@pytest.fixture
def unpaid_invoice(services):
    """INV-10000004 unpaid before the test, and unpaid again after it."""
    assert invoice_state(services, PAID_HERE) == (0, False), f"{PAID_HERE} was paid elsewhere"
    yield PAID_HERE
    with Session(services.engine) as session:
        invoice = session.scalar(select(m.Invoice).filter_by(number=PAID_HERE))
        session.execute(delete(m.Payment).where(m.Payment.invoice_id == invoice.id))
        invoice.paid_at = None
        session.commit()


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("INV-10000003", "INV-10000003"),
        ("inv-10000003", "INV-10000003"),
        ("INV10000003", "INV-10000003"),
        ("inv 10000003", "INV-10000003"),
        ("INV-1000", None),
        ("100000003", None),
    ],
)
def test_invoice_numbers_are_normalised(raw, number):
    assert normalize_invoice_number(raw) == number


async def test_unpaid_is_the_default_with_due_dates_and_total(services, run):
    outcome = await run(ActionShowInvoices(), services.token(BEN))
    assert outcome.responses == ["utter_invoices_unpaid"]
    values = outcome.values("utter_invoices_unpaid")
    unpaid = [i for i in invoices_of(services, ACME) if i.paid_at is None]
    assert values["count"] == len(unpaid) >= 2
    listed = values["invoices"]
    for invoice in unpaid:
        assert invoice.number in listed
        assert i18n.day(invoice.due_on, "en") in listed
    assert "INV-10000001" not in listed  # paid
    total = schemas.Money(cents=sum(i.amount_cents for i in unpaid), currency="USD")
    assert values["total"] == i18n.money(total, "en")


@pytest.mark.parametrize(
    ("status", "listed", "absent"),
    [
        ("paid", "INV-10000001", "INV-10000003"),
        ("overdue", "INV-10000005", "INV-10000003"),
        ("all", "INV-10000001", None),
    ],
)
async def test_the_status_entity_filters_the_list(services, run, status, listed, absent):
    outcome = await run(
        ActionShowInvoices(), services.token(BEN), entities=[entity("invoice_status", status)]
    )
    assert outcome.responses == [f"utter_invoices_{status}"]
    shown = outcome.values(f"utter_invoices_{status}")["invoices"]
    assert listed in shown
    if absent:
        assert absent not in shown


async def test_spanish_lists_show_spanish_statuses_money_and_dates(services, run):
    outcome = await run(
        ActionShowInvoices(),
        services.token(DIEGO, GLOBEX),
        entities=[entity("invoice_status", "all")],
        slots={"language": "es"},
    )
    assert outcome.responses == ["utter_invoices_all"]
    shown = outcome.values("utter_invoices_all")["invoices"]
    today = dt.date.today()
    for invoice in invoices_of(services, GLOBEX):
        status = invoice.status_on(today)
        amount = schemas.Money(cents=invoice.amount_cents, currency="MXN")
        line = next(line for line in shown.splitlines() if invoice.number in line)
        assert i18n.status(status, "es") in line
        assert i18n.day(invoice.due_on, "es") in line
        assert i18n.money(amount, "es") in line
    assert "pagada" in shown and ("pendiente" in shown or "vencida" in shown)
    for english in ("unpaid", "overdue", "paid"):
        assert english not in shown


async def test_billing_report_off_is_denied_by_account_setting(services, run):
    outcome = await run(
        ActionShowInvoices(), services.token(LENA), entities=[entity("invoice_status", "unpaid")]
    )
    assert outcome.responses == ["utter_denied_account_setting"]
    assert outcome.values("utter_denied_account_setting")["account"] == "Initech GmbH"


async def test_home_accounts_have_no_invoices_here(services, run):
    outcome = await run(ActionShowInvoices(), services.token(HANNAH))
    assert outcome.responses == ["utter_denied_account_type"]
    assert outcome.values("utter_denied_account_type")["account_type"] == "Home"


async def test_details_of_a_paid_and_an_unpaid_invoice(services, run):
    token = services.token(BEN)
    paid = await run(
        ActionInvoiceDetails(), token, entities=[entity("invoice_number", "INV-10000001")]
    )
    assert paid.responses == ["utter_invoice_details_paid"]
    assert paid.values("utter_invoice_details_paid")["order"] == "100000004"

    open_one = await run(
        ActionInvoiceDetails(), token, entities=[entity("invoice_number", "inv 10000003")]
    )
    assert open_one.responses == ["utter_invoice_details"]
    values = open_one.values("utter_invoice_details")
    assert values["number"] == "INV-10000003"
    assert values["status"] in ("unpaid", "paid", "overdue")


async def test_the_invoice_of_an_order_is_found_by_the_order_number(services, run):
    outcome = await run(
        ActionInvoiceDetails(),
        services.token(BEN),
        entities=[entity("order_number", "100000002")],
    )
    assert outcome.responses in (["utter_invoice_details"], ["utter_invoice_details_paid"])
    values = outcome.values(outcome.responses[0])
    assert values["number"] == "INV-10000003" and values["order"] == "100000002"


async def test_an_order_without_an_invoice_is_said_so(services, run):
    outcome = await run(
        ActionPayInvoice(), services.token(BEN), entities=[entity("order_number", "100000001")]
    )
    assert outcome.responses == ["utter_no_invoice_for_order"]
    assert outcome.slot("pending_change") == "<unset>"


@pytest.mark.parametrize("entities", [[], [entity("invoice_number", "INV-123")]])
async def test_a_missing_or_malformed_number_is_asked_for(services, run, entities):
    outcome = await run(ActionInvoiceDetails(), services.token(BEN), entities=entities)
    assert outcome.responses == ["utter_ask_invoice_number"]


async def test_another_accounts_invoice_is_not_found(services, run):
    outcome = await run(
        ActionInvoiceDetails(),
        services.token(DIEGO, GLOBEX),
        entities=[entity("invoice_number", "INV-10000001")],
        slots={"language": "es"},
    )
    assert outcome.responses == ["utter_not_found"]
    assert outcome.values("utter_not_found")["what"] == "la factura"


async def test_download_gives_an_expiring_pdf_link(services, run):
    outcome = await run(
        ActionDownloadInvoice(),
        services.token(BEN),
        entities=[entity("invoice_number", "INV-10000002")],
    )
    assert outcome.responses == ["utter_invoice_download"]
    values = outcome.values("utter_invoice_download")
    assert values["filename"] == "INV-10000002.pdf"
    assert "/downloads/" in values["url"]
    assert values["minutes"] >= 1
    assert httpx.get(values["url"], timeout=30).status_code == 200


async def test_paying_shows_amount_and_card_then_pays_once(
    services, run, audit_rows, unpaid_invoice
):
    token = services.token(BEN)
    proposed = await run(
        ActionPayInvoice(),
        token,
        text=f"pay {unpaid_invoice}",
        entities=[entity("invoice_number", unpaid_invoice)],
    )
    assert proposed.responses == ["utter_pay_invoice_summary", "utter_confirm_buttons"]
    summary = proposed.values("utter_pay_invoice_summary")
    assert summary["number"] == unpaid_invoice
    assert "4242" in summary["card"] and "•" in summary["card"]  # the first valid card, masked
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "pay_invoice"
    assert pending["params"]["invoice_number"] == unpaid_invoice
    assert invoice_state(services, unpaid_invoice) == (0, False)  # nothing before "yes"

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_invoice_paid"]
    assert done.slot("pending_change") is None and done.slot("last_change") == pending
    assert done.values("utter_invoice_paid")["amount"] == summary["amount"]
    assert invoice_state(services, unpaid_invoice) == (1, True)

    # The confirmation runs again with the same pending change: replayed, not paid twice.
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.responses == ["utter_invoice_paid"]
    assert invoice_state(services, unpaid_invoice) == (1, True)
    again = await run(ActionConfirmChange(), token, slots={"last_change": pending})
    assert again.responses == ["utter_already_done"]
    assert invoice_state(services, unpaid_invoice) == (1, True)
    audited = audit_rows(action="pay_invoice", outcome="ok")
    assert [e.detail.get("idempotency_key") for e in audited].count(pending["key"]) == 1


async def test_a_card_named_by_its_last_four_digits_is_used(services, run, unpaid_invoice):
    outcome = await run(
        ActionPayInvoice(),
        services.token(BEN),
        text=f"pay {unpaid_invoice} with the card ending 5454",
        entities=[entity("invoice_number", unpaid_invoice)],
    )
    assert "5454" in outcome.values("utter_pay_invoice_summary")["card"]


async def test_an_unknown_card_is_not_guessed(services, run, unpaid_invoice):
    outcome = await run(
        ActionPayInvoice(),
        services.token(BEN),
        text=f"pay {unpaid_invoice} with the card ending 9999",
        entities=[entity("invoice_number", unpaid_invoice)],
    )
    assert outcome.responses == ["utter_card_not_found"]
    assert outcome.slot("pending_change") == "<unset>"
    assert "4242" in outcome.values("utter_card_not_found")["cards"]


async def test_a_paid_invoice_is_not_offered_for_payment(services, run):
    outcome = await run(
        ActionPayInvoice(),
        services.token(BEN),
        entities=[entity("invoice_number", "INV-10000001")],
    )
    assert outcome.responses == ["utter_invoice_already_paid"]
    assert outcome.slot("pending_change") == "<unset>"


async def test_a_shopper_cannot_pay_and_is_told_who_can(services, run):
    outcome = await run(
        ActionPayInvoice(),
        services.token(SARA),
        entities=[entity("invoice_number", PAID_HERE)],
    )
    assert outcome.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in outcome.values("utter_denied_role")["admins"]
    assert outcome.slot("pending_change") == "<unset>"


async def test_quotes_list_numbers_totals_and_validity(services, run):
    outcome = await run(ActionShowQuotes(), services.token(BEN))
    assert outcome.responses == ["utter_quotes"]
    quotes = outcome.values("utter_quotes")["quotes"]
    assert "Q-10000001" in quotes and "Refresh of 40 Latitude laptops" in quotes
    assert "expired" in quotes  # the PowerEdge quote


async def test_quotes_in_spanish(services, run):
    outcome = await run(ActionShowQuotes(), services.token(DIEGO, GLOBEX), slots={"language": "es"})
    quotes = outcome.values("utter_quotes")["quotes"]
    assert "abierta" in quotes and "$187,000.00" in quotes


async def test_home_accounts_have_no_quotes(services, run):
    outcome = await run(ActionShowQuotes(), services.token(HANNAH))
    assert outcome.responses == ["utter_denied_account_type"]


# --- what the actions show as data beside the text ---------------------------------------

TONES = {"paid": "ok", "unpaid": "warn", "overdue": "bad"}


async def test_the_unpaid_invoices_are_a_list_with_a_status_and_tone_each(services, run):
    outcome = await run(ActionShowInvoices(), services.token(BEN))
    shown = outcome.data("utter_invoices_unpaid")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "invoices", ACME)
    today = dt.date.today()
    unpaid = [i for i in invoices_of(services, ACME) if i.paid_at is None]
    assert [item["id"] for item in shown["items"]] == [i.number for i in unpaid]
    for invoice, item in zip(unpaid, shown["items"], strict=True):
        status = invoice.status_on(today)
        assert item["status"] == {"value": status, "label": status, "tone": TONES[status]}
        values = field_values(item["fields"])
        assert values["due_on"] == i18n.day(invoice.due_on, "en")
        assert values["amount"] == i18n.money(
            schemas.Money(cents=invoice.amount_cents, currency="USD"), "en"
        )
    assert field_labels(shown["items"][0]["fields"]) == {"amount": "Amount", "due_on": "Due"}


async def test_a_spanish_invoice_list_has_spanish_labels_and_statuses(services, run):
    outcome = await run(
        ActionShowInvoices(),
        services.token(DIEGO, GLOBEX),
        entities=[entity("invoice_status", "all")],
        slots={"language": "es"},
    )
    shown = outcome.data("utter_invoices_all")
    assert shown["title"] == GLOBEX
    assert len(shown["items"]) == len(invoices_of(services, GLOBEX))
    for item in shown["items"]:
        assert item["id"].startswith("INV-")
        assert field_labels(item["fields"]) == {"amount": "Importe", "due_on": "Vence"}
        assert item["status"]["label"] == i18n.status(item["status"]["value"], "es")
        assert item["status"]["tone"] == TONES[item["status"]["value"]]
    assert "pagada" in {item["status"]["label"] for item in shown["items"]}


async def test_an_invoices_details_are_a_card(services, run):
    outcome = await run(
        ActionInvoiceDetails(),
        services.token(BEN),
        entities=[entity("invoice_number", "INV-10000001")],
        slots={"language": "es"},
    )
    shown = outcome.data("utter_invoice_details_paid")
    assert (shown["type"], shown["kind"]) == ("card", "invoice")
    item = shown["item"]
    assert item["id"] == "INV-10000001"
    assert item["status"] == {"value": "paid", "label": "pagada", "tone": "ok"}
    values = field_values(item["fields"])
    assert values["order_number"] == "100000004"
    assert values["paid_on"] == outcome.values("utter_invoice_details_paid")["paid"]
    assert field_labels(item["fields"])["paid_on"] == "Pagada el"


async def test_an_invoice_download_is_a_card_with_its_link(services, run):
    outcome = await run(
        ActionDownloadInvoice(),
        services.token(BEN),
        entities=[entity("invoice_number", "INV-10000002")],
    )
    shown = outcome.data("utter_invoice_download")
    assert (shown["type"], shown["kind"]) == ("card", "invoice_pdf")
    assert shown["item"]["id"] == "INV-10000002"
    assert shown["item"]["link"] == {
        "label": "Download",
        "url": outcome.values("utter_invoice_download")["url"],
    }


async def test_a_payment_summary_carries_what_is_confirmed(services, run, unpaid_invoice):
    outcome = await run(
        ActionPayInvoice(),
        services.token(BEN),
        text=f"pay {unpaid_invoice}",
        entities=[entity("invoice_number", unpaid_invoice)],
    )
    shown = outcome.data("utter_pay_invoice_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "pay_invoice",
        unpaid_invoice,
    )
    summary = outcome.values("utter_pay_invoice_summary")
    values = field_values(shown["fields"])
    assert values == {
        "invoice_number": unpaid_invoice,
        "amount": summary["amount"],
        "status": summary["status"],
        "due_on": summary["due"],
        "card": summary["card"],
    }
    assert invoice_state(services, unpaid_invoice) == (0, False)


async def test_quotes_are_a_list_with_their_validity(services, run):
    outcome = await run(ActionShowQuotes(), services.token(BEN))
    shown = outcome.data("utter_quotes")
    assert (shown["type"], shown["kind"]) == ("list", "quotes")
    items = {item["title"]: item for item in shown["items"]}
    refresh = items["Refresh of 40 Latitude laptops"]
    assert refresh["id"].startswith("Q-")
    assert refresh["status"]["tone"] == "warn"  # open: waiting for a decision
    assert items["PowerEdge expansion"]["status"] == {
        "value": "expired",
        "label": "expired",
        "tone": "bad",
    }
    assert field_labels(refresh["fields"]) == {"total": "Total", "expires_on": "Valid until"}
