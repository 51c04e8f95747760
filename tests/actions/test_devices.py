"""Devices, warranties and subscriptions against the real services."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import i18n
from actions.devices import ActionCheckWarranty, ActionListDevices, days_left, service_tags_in
from actions.subscriptions import ActionListSubscriptions
from bot.services import models as m
from tests.actions.harness import field_labels, field_values

BEN = "ben.buyer@acme.example"
DIEGO = "diego.admin@globex.example"


def entity(name, value):
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


@pytest.mark.parametrize(
    ("value", "tags"),
    [
        ("7XK2M93", ["7XK2M93"]),
        ("7xk-2m93", ["7XK2M93"]),
        ("7XK 2M93", ["7XK2M93"]),
        (["9qw4t72", "3FJ-8K21", "9QW4T72"], ["9QW4T72", "3FJ8K21"]),
        ("renew 9qw4t72 and 3FJ 8K21 please", ["9QW4T72", "3FJ8K21"]),
        ("the big server", []),
        ("Latitude", []),
        (None, []),
    ],
)
def test_service_tags_are_found_in_any_case_with_spaces_or_dashes(value, tags):
    assert service_tags_in(value) == tags


@pytest.mark.parametrize(
    ("days", "language", "text"),
    [
        (25, "en", "25 days left"),
        (1, "en", "1 day left"),
        (0, "en", "ends today"),
        (-70, "en", "70 days ago"),
        (25, "es", "quedan 25 días"),
        (-1, "es", "hace 1 día"),
    ],
)
def test_days_left_reads_naturally(days, language, text):
    assert days_left(days, language) == text


async def test_devices_are_listed_with_their_warranty(services, run):
    outcome = await run(ActionListDevices(), services.token(BEN))
    assert outcome.responses == ["utter_devices"]
    values = outcome.values("utter_devices")
    assert values["count"] == 5
    lines = values["devices"].splitlines()
    assert any(line.startswith("• H2L9P05") and "expired" in line for line in lines)
    assert any(line.startswith("• 7XK2M93") and "active" in line for line in lines)


async def test_devices_in_spanish(services, run):
    outcome = await run(
        ActionListDevices(), services.token(DIEGO, "Globex México"), slots={"language": "es"}
    )
    devices = outcome.values("utter_devices")["devices"]
    assert "MX1Z5Q3" in devices and "vencida" in devices and "hace" in devices


@pytest.mark.parametrize("typed", ["7xk-2m93", "7XK 2M93", "7xk2m93"])
async def test_warranty_by_tag_in_any_shape(services, run, typed):
    outcome = await run(
        ActionCheckWarranty(), services.token(BEN), entities=[entity("service_tag", typed)]
    )
    assert outcome.responses == ["utter_warranty_active"]
    values = outcome.values("utter_warranty_active")
    assert values["tag"] == "7XK2M93"
    assert values["plan"] == "ProSupport Plus"
    assert values["days"].endswith("days left")


async def test_expired_warranty_says_when_it_ended(services, run):
    outcome = await run(
        ActionCheckWarranty(), services.token(BEN), entities=[entity("service_tag", "H2L9P05")]
    )
    assert outcome.responses == ["utter_warranty_expired"]
    assert outcome.values("utter_warranty_expired")["days"] == "70 days ago"


async def test_warranty_without_a_tag_asks_for_it(services, run):
    outcome = await run(ActionCheckWarranty(), services.token(BEN))
    assert outcome.responses == ["utter_ask_warranty_service_tag"]


async def test_warranty_of_a_malformed_tag_says_what_a_tag_looks_like(services, run):
    outcome = await run(
        ActionCheckWarranty(), services.token(BEN), entities=[entity("service_tag", "7XK2M9")]
    )
    assert outcome.responses == ["utter_invalid_service_tag"]


async def test_warranty_of_another_accounts_device_is_not_found_and_audited(
    services, run, audit_rows
):
    lena = "lena.buyer@initech.example"
    before = len(audit_rows(action="probe:check_warranty", email=lena))
    foreign = await run(
        ActionCheckWarranty(), services.token(lena), entities=[entity("service_tag", "7xk2m93")]
    )
    missing = await run(
        ActionCheckWarranty(), services.token(lena), entities=[entity("service_tag", "ZZ9ZZ99")]
    )
    assert foreign.responses == missing.responses == ["utter_not_found"]
    assert foreign.values("utter_not_found")["what"] == "service tag"
    assert (
        len(audit_rows(expect=before + 1, action="probe:check_warranty", email=lena)) == before + 1
    )


async def test_subscriptions_are_listed_in_the_us(services, run):
    outcome = await run(ActionListSubscriptions(), services.token(BEN))
    assert outcome.responses == ["utter_subscriptions"]
    values = outcome.values("utter_subscriptions")
    assert values["count"] == 3
    assert "Microsoft 365 Business Premium · 120 · active" in values["subscriptions"]


async def test_subscriptions_are_not_offered_in_mexico(services, run):
    outcome = await run(
        ActionListSubscriptions(),
        services.token(DIEGO, "Globex México"),
        slots={"language": "es"},
    )
    assert outcome.responses == ["utter_denied_country"]
    assert outcome.values("utter_denied_country")["country"] == "México"


# --- what the actions show as data beside the text ---------------------------------------


def warranty_end(services, tag):
    with Session(services.engine) as session:
        return session.scalar(select(m.Device.warranty_end).filter_by(service_tag=tag))


async def test_devices_are_a_list_with_their_warranty_status(services, run):
    outcome = await run(ActionListDevices(), services.token(BEN))
    shown = outcome.data("utter_devices")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "devices", "Acme Corporation")
    items = {item["id"]: item for item in shown["items"]}
    assert set(items) == {"7XK2M93", "3FJ8K21", "9QW4T72", "H2L9P05", "C8N3V66"}
    assert items["7XK2M93"]["status"] == {"value": "active", "label": "active", "tone": "ok"}
    assert items["H2L9P05"]["status"] == {"value": "expired", "label": "expired", "tone": "bad"}
    assert items["7XK2M93"]["subtitle"] == "Latitude 7440 laptop"


async def test_a_warranty_check_is_a_device_card_in_the_persons_language(services, run):
    outcome = await run(
        ActionCheckWarranty(),
        services.token(DIEGO, "Globex México"),
        entities=[entity("service_tag", "mx4r8t2")],
        slots={"language": "es"},
    )
    shown = outcome.data("utter_warranty_active")
    assert (shown["type"], shown["kind"]) == ("card", "device")
    item = shown["item"]
    assert item["id"] == "MX4R8T2"
    assert item["status"] == {"value": "active", "label": "activa", "tone": "ok"}
    values = field_values(item["fields"])
    assert values["warranty_end"] == i18n.day(warranty_end(services, "MX4R8T2"), "es")
    assert values["plan"] == "ProSupport"
    assert values["days_left"].startswith("quedan")
    assert field_labels(item["fields"]) == {
        "plan": "Plan",
        "warranty_end": "Fin de la garantía",
        "days_left": "Plazo",
    }


async def test_an_expired_warranty_card_has_a_bad_tone(services, run):
    outcome = await run(
        ActionCheckWarranty(), services.token(BEN), entities=[entity("service_tag", "H2L9P05")]
    )
    item = outcome.data("utter_warranty_expired")["item"]
    assert item["id"] == "H2L9P05" and item["status"]["tone"] == "bad"
    assert field_values(item["fields"])["warranty_end"] == i18n.day(
        warranty_end(services, "H2L9P05"), "en"
    )


async def test_subscriptions_are_a_list_with_seats_and_renewal(services, run):
    outcome = await run(ActionListSubscriptions(), services.token(BEN))
    shown = outcome.data("utter_subscriptions")
    assert (shown["type"], shown["kind"]) == ("list", "subscriptions")
    items = {item["id"]: item for item in shown["items"]}
    microsoft = items["Microsoft 365 Business Premium"]
    assert microsoft["status"]["tone"] == "ok"
    assert field_values(microsoft["fields"])["seats"] == "120"
    assert field_labels(microsoft["fields"]) == {"seats": "Seats", "renews_on": "Renews"}
    assert items["Adobe Acrobat Pro"]["status"]["tone"] == "bad"


# --- the list narrowed by warranty ("which of our machines lose coverage soon") ----------
# Acme's warranties end in 1048, 1000 and 1070 days, and ended 70 and 400 days ago.


def listed(outcome, response):
    return [item["id"] for item in outcome.data(response)["items"]]


async def test_expired_warranties_only(services, run):
    outcome = await run(
        ActionListDevices(), services.token(BEN), entities=[entity("device_filter", "expired")]
    )
    assert outcome.responses == ["utter_devices_expired"]
    assert outcome.values("utter_devices_expired")["count"] == 2
    assert sorted(listed(outcome, "utter_devices_expired")) == ["C8N3V66", "H2L9P05"]


async def test_active_warranties_only(services, run):
    outcome = await run(
        ActionListDevices(), services.token(BEN), entities=[entity("device_filter", "active")]
    )
    assert sorted(listed(outcome, "utter_devices_active")) == ["3FJ8K21", "7XK2M93", "9QW4T72"]


async def test_expiring_soon_looks_90_days_ahead_and_says_when_none_does(services, run):
    outcome = await run(
        ActionListDevices(), services.token(BEN), entities=[entity("device_filter", "expiring")]
    )
    assert outcome.responses == ["utter_no_devices_expiring"]
    assert outcome.values("utter_no_devices_expiring")["days"] == 90


@pytest.mark.parametrize(
    ("window", "tags"),
    [
        ("3 years", ["3FJ8K21", "7XK2M93", "9QW4T72"]),
        ("1010 days", ["3FJ8K21"]),
        ("treinta y seis meses", ["3FJ8K21", "7XK2M93", "9QW4T72"]),
    ],
)
async def test_a_window_alone_means_expiring_within_it(services, run, window, tags):
    outcome = await run(
        ActionListDevices(), services.token(BEN), entities=[entity("duration", window)]
    )
    assert outcome.responses == ["utter_devices_expiring"]
    assert sorted(listed(outcome, "utter_devices_expiring")) == tags


async def test_expiring_with_a_window_in_spanish(services, run):
    outcome = await run(
        ActionListDevices(),
        services.token(BEN),
        entities=[entity("device_filter", "expiring"), entity("duration", "1010 días")],
        slots={"language": "es"},
    )
    assert outcome.responses == ["utter_devices_expiring"]
    assert outcome.values("utter_devices_expiring")["days"] == 1010
    assert "quedan" in outcome.values("utter_devices_expiring")["devices"]


async def test_an_unknown_filter_value_lists_everything(services, run):
    outcome = await run(
        ActionListDevices(), services.token(BEN), entities=[entity("device_filter", "purple")]
    )
    assert outcome.responses == ["utter_devices"]
    assert outcome.values("utter_devices")["count"] == 5


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("60 days", 60),
        ("the next 3 months", 90),
        ("un mes", 30),
        ("dos semanas", 14),
        ("next quarter", 91),
        ("a year", 365),
        ("90 días", 90),
        ("soon", None),
    ],
)
def test_spans_of_time_in_days(text, days):
    assert i18n.span_days(text) == days
