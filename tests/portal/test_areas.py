"""The portal's tables as the person reads them: labels and values in their language.

The tables of the portal page and of the agent console are built from the services'
answers by `bot.portal.areas`; these tests give it answers shaped as the services'
and check what a person would see. Through the real services, see
tests/portal/test_portal_app.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from actions import i18n
from bot.portal.areas import AREAS, Section, table

SECTIONS = {section.name: section for area in AREAS.values() for section in area}


def test_an_order_is_shown_with_spanish_headers_and_the_chats_status_word():
    order = {
        "number": "200000001",
        "placed_at": "2026-01-09T09:30:00",
        "channel": "online",
        "status": "shipped",
        "total": {"cents": 1_234_567, "currency": "MXN"},
        "estimated_delivery": None,
    }
    shown = table(SECTIONS["orders"], [order], "es")
    assert shown["columns"] == list(SECTIONS["orders"].columns), "the keys stay the services'"
    assert shown["labels"] == [
        "Número",
        "Fecha del pedido",
        "Canal",
        "Estado",
        "Total",
        "Entrega estimada",
    ]
    # The status as the widget names it, the day and the amount as the chat writes them
    # (pesos in Mexican Spanish are "$"); no value is left out.
    assert shown["rows"] == [["200000001", "9 ene 2026", "online", "enviado", "$12,345.67", ""]]


@pytest.mark.parametrize(
    ("language", "placed", "due", "amount"),
    [("en", "Jan 9, 2026", "Feb 8, 2026", "€1,250.00"),
     ("es", "9 ene 2026", "8 feb 2026", "EUR1,250.00")],
)  # fmt: skip
def test_days_and_amounts_are_written_as_the_chat_writes_them(language, placed, due, amount):
    invoice = {
        "number": "INV-30000001",
        "status": "open",
        "issued_on": "2026-01-09",
        "due_on": "2026-02-08T00:00:00Z",
        "amount": {"cents": 125_000, "currency": "EUR"},
    }
    shown = table(SECTIONS["invoices"], {"invoices": [invoice]}, language)
    row = dict(zip(shown["columns"], shown["rows"][0], strict=True))
    assert (row["issued_on"], row["due_on"], row["amount"]) == (placed, due, amount)
    # The chat's own words (es_MX names a euro amount by its code).
    assert row["issued_on"] == i18n.day(dt.date(2026, 1, 9), language)


def test_a_date_column_holding_something_else_shows_it_as_stored():
    shown = table(SECTIONS["subscriptions"], [{"product": "Office", "renews_on": "soon"}], "en")
    assert shown["rows"][0][shown["columns"].index("renews_on")] == "soon"


def test_a_status_nobody_named_yet_is_shown_as_stored():
    shown = table(SECTIONS["invoices"], {"invoices": [{"number": "7", "status": "disputed"}]}, "es")
    assert shown["rows"][0][shown["columns"].index("status")] == "disputed"


@pytest.mark.parametrize(
    ("language", "labels", "words"),
    [
        ("en", ["Service tag", "Product", "Warranty plan", "Warranty ends", "Warranty status"],
         ["ProSupport Plus", "expired", "Nov 1, 2025"]),
        ("es", ["Etiqueta de servicio", "Producto", "Plan de garantía", "Fin de la garantía",
                "Estado de la garantía"], ["ProSupport Plus", "vencida", "1 nov 2025"]),
    ],
)  # fmt: skip
def test_a_devices_plan_and_warranty_status_are_named_as_the_chat_names_them(
    language, labels, words
):
    device = {
        "service_tag": "H2L9P05",
        "product": "Latitude 5440 laptop",
        "warranty_plan": "prosupport_plus",
        "warranty_end": "2025-11-01",
        "warranty_status": "expired",
    }
    shown = table(SECTIONS["devices"], [device], language)
    assert shown["labels"] == labels
    assert shown["rows"][0][2:] == [words[0], words[2], words[1]]


def test_a_column_key_that_says_less_is_labelled_and_named_as_the_field_it_shows():
    company = {"name": "Globex México", "customer_number": "C-200871", "type": "Business"}
    shown = table(SECTIONS["company"], company, "es")
    assert shown["labels"][2] == i18n.field_label("account_type", "es") == "Tipo de cuenta"
    assert shown["rows"][0][2] == "Empresa"
    report = table(SECTIONS["reports"], [{"type": "spend", "name": "Spend by month"}], "es")
    assert report["labels"] == ["Informe", "Nombre"]
    assert report["rows"] == [["Gasto por mes", "Spend by month"]]


def test_yes_and_no_are_words_of_the_language():
    section = Section("flags", "/flags", ("name", "enabled"))
    rows = [{"name": "a", "enabled": True}, {"name": "b", "enabled": False}]
    assert table(section, rows, "es")["rows"] == [["a", "sí"], ["b", "no"]]
    assert table(section, rows, "en")["rows"] == [["a", "yes"], ["b", "no"]]


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_every_column_of_every_table_has_a_label_in_each_language(name):
    section = SECTIONS[name]
    english = table(section, [], "en")["labels"]
    spanish = table(section, [], "es")["labels"]
    assert len(english) == len(spanish) == len(section.columns)
    for column, en, es in zip(section.columns, english, spanish, strict=True):
        assert "_" not in en and "_" not in es, f"{name}.{column} has no label"
        assert en[0].isupper() and es[0].isupper(), f"{name}.{column}: sentence case"
