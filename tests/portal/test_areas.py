"""The portal's tables as the person reads them: labels and values in their language.

The tables of the portal page and of the agent console are built from the services'
answers by `bot.portal.areas`; these tests give it answers shaped as the services'
and check what a person would see. Through the real services, see
tests/portal/test_portal_app.py.
"""

from __future__ import annotations

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
    # The status as the widget names it; money keeps its format; no value is left out.
    assert shown["rows"] == [
        ["200000001", "2026-01-09T09:30:00", "online", "enviado", "12,345.67 MXN", ""]
    ]


def test_a_status_nobody_named_yet_is_shown_as_stored():
    shown = table(SECTIONS["invoices"], {"invoices": [{"number": "7", "status": "disputed"}]}, "es")
    assert shown["rows"][0][shown["columns"].index("status")] == "disputed"


@pytest.mark.parametrize(
    ("language", "labels", "words"),
    [
        ("en", ["Service tag", "Product", "Warranty plan", "Warranty ends", "Warranty status"],
         ["ProSupport Plus", "expired"]),
        ("es", ["Etiqueta de servicio", "Producto", "Plan de garantía", "Fin de la garantía",
                "Estado de la garantía"], ["ProSupport Plus", "vencida"]),
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
    assert shown["rows"][0][2:] == [words[0], "2025-11-01", words[1]]


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
