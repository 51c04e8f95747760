"""Support actions against the real services: account team, documents, history, requests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Dict

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.changes import ActionConfirmChange
from actions.support import (
    ActionLeaveOpenServiceRequestForm,
    ActionListDocuments,
    ActionOpenServiceRequest,
    ActionServiceRequestStatus,
    ActionShowAccountTeam,
    ActionSupportHistory,
    ValidateOpenServiceRequestForm,
)
from bot import language
from bot.services import models as m
from tests.actions.harness import (
    check_form,
    entity_in,
    field_labels,
    field_values,
    start_form,
)

ROOT = Path(__file__).resolve().parents[2]
BEN = "ben.buyer@acme.example"
FORM = "open_service_request_form"
OPEN = ("open", "in_progress")


def entity(name: str, value: str) -> Dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def requests_described(services, description: str) -> int:
    with Session(services.engine) as session:
        return session.scalar(
            select(func.count()).select_from(m.ServiceRequest).filter_by(description=description)
        )


# --- reads -------------------------------------------------------------------------------


async def test_account_team_lists_the_accounts_contacts(services, run):
    outcome = await run(ActionShowAccountTeam(), services.token(BEN))
    assert outcome.responses == ["utter_account_team"]
    team = outcome.values("utter_account_team")["team"]
    assert "Maya Chen" in team and "eve.rep@vendor.example" in team


async def test_documents_come_with_working_pdf_links(services, run):
    outcome = await run(ActionListDocuments(), services.token("ana.admin@acme.example"))
    assert outcome.responses == ["utter_documents"]
    values = outcome.values("utter_documents")
    assert values["count"] == 3 and values["minutes"] >= 1
    links = [w for w in values["documents"].split() if "/downloads/" in w]
    assert len(links) == 3
    download = httpx.get(links[0], timeout=10)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/pdf")


async def test_a_home_account_has_no_documents_offer(services, run):
    outcome = await run(ActionListDocuments(), services.token("hannah@home.example"))
    assert outcome.responses == ["utter_denied_account_type"]
    assert outcome.values("utter_denied_account_type")["account_type"] == "Home"


async def test_support_history_separates_open_and_closed_requests(services, run):
    outcome = await run(ActionSupportHistory(), services.token(BEN))
    values = outcome.values("utter_support_history")
    assert "1000000001" in values["open"] and "1000000002" in values["open"]
    assert "1000000003" in values["closed"] and "1000000003" not in values["open"]
    assert "in progress" in values["open"]


async def test_support_history_of_one_device(services, run):
    outcome = await run(
        ActionSupportHistory(), services.token(BEN), entities=[entity("service_tag", "3fj8k21")]
    )
    values = outcome.values("utter_support_history")
    assert "1000000001" in values["open"] and values["closed"] == "none"
    assert "1000000002" not in values["open"]


async def test_support_history_in_spanish_for_diego(services, run):
    outcome = await run(
        ActionSupportHistory(),
        services.token("diego.admin@globex.example"),
        slots={"language": "es"},
    )
    values = outcome.values("utter_support_history")
    assert values["account"] == "Globex México"
    assert "abierta" in values["open"] and "cerrada" in values["closed"]


async def test_request_status_asks_for_the_number_when_missing(services, run):
    outcome = await run(ActionServiceRequestStatus(), services.token(BEN))
    assert outcome.responses == ["utter_ask_service_request_number"]


async def test_request_status_reports_the_request(services, run):
    outcome = await run(
        ActionServiceRequestStatus(),
        services.token(BEN),
        entities=[entity("service_request_number", "1000000002")],
    )
    values = outcome.values("utter_service_request_status")
    assert values["status"] == "in progress" and values["service_tag"] == "9QW4T72"


async def test_another_accounts_request_is_not_found_and_audited(services, run, audit_rows):
    before = len(audit_rows(action="probe:service_request_status"))
    outcome = await run(
        ActionServiceRequestStatus(),
        services.token("lena.buyer@initech.example"),
        entities=[entity("service_request_number", "1000000001")],
    )
    assert outcome.responses == ["utter_not_found"]
    assert len(audit_rows(expect=before + 1, action="probe:service_request_status")) == before + 1


# --- the form ----------------------------------------------------------------------------


async def test_the_service_tag_is_checked_through_the_services(services, run):
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        services.token(BEN),
        FORM,
        {"service_request_tag": "7xk2m93"},
    )
    assert checked.responses == []
    assert checked.slot("service_request_tag") == "7XK2M93"
    assert checked.slot("requested_slot") == "service_request_description"


async def test_another_accounts_service_tag_is_not_found_and_audited(services, run, audit_rows):
    before = len(audit_rows(action="probe:check_warranty", target="service tag MX4R8T2"))
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        services.token(BEN),
        FORM,
        {"service_request_tag": "MX4R8T2"},
    )
    assert checked.responses == ["utter_not_found"]
    assert checked.values("utter_not_found")["id"] == "MX4R8T2"
    assert checked.slot("service_request_tag") is None
    assert checked.slot("requested_slot") == "service_request_tag"
    after = audit_rows(
        expect=before + 1, action="probe:check_warranty", target="service tag MX4R8T2"
    )
    assert len(after) == before + 1


async def test_a_malformed_tag_and_a_one_word_description_are_asked_again(services, run):
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        services.token(BEN),
        FORM,
        {"service_request_tag": "laptop", "service_request_description": "broken"},
    )
    assert checked.responses == ["utter_invalid_service_request_tag", "utter_description_length"]
    assert checked.slot("service_request_tag") is None
    assert checked.slot("service_request_description") is None
    assert checked.slot("requested_slot") == "service_request_tag"


async def test_opening_a_request_confirmed_twice_opens_one(services, run):
    token = services.token(BEN)
    description = f"Fan is loud under load ({uuid.uuid4().hex[:8]})"
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        token,
        FORM,
        {"service_request_description": f"  {description} "},
        slots={"service_request_tag": "3FJ8K21"},
    )
    assert checked.slot("service_request_description") == description
    assert checked.slot("requested_slot") is None

    proposed = await run(
        ActionOpenServiceRequest(),
        token,
        slots={"service_request_tag": "3FJ8K21", "service_request_description": description},
    )
    assert proposed.responses == ["utter_service_request_summary", "utter_confirm_buttons"]
    assert proposed.values("utter_service_request_summary")["product"] == "OptiPlex 7010 desktop"
    assert proposed.slot("service_request_tag") is None
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "open_service_request"

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_service_request_opened"]
    number = done.values("utter_service_request_opened")["number"]
    assert len(number) == 10 and number.isdigit()
    again = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert again.values("utter_service_request_opened")["number"] == number
    assert requests_described(services, description) == 1
    status = await run(
        ActionServiceRequestStatus(), token, entities=[entity("service_request_number", number)]
    )
    assert status.values("utter_service_request_status")["status"] == "open"


async def test_the_account_team_is_refused_before_any_question(services, run):
    token = services.token("eve.rep@vendor.example")
    checked = await check_form(
        ValidateOpenServiceRequestForm(), token, FORM, {"service_request_tag": "7XK2M93"}
    )
    assert checked.responses == ["utter_denied_role"]
    assert checked.slot("requested_slot") is None
    assert checked.slot("service_request_tag") is None
    # The form then ends empty; its submission says nothing more.
    submitted = await run(ActionOpenServiceRequest(), token)
    assert submitted.responses == []


async def test_cancel_inside_the_form_forgets_its_answers(run):
    outcome = await run(
        ActionLeaveOpenServiceRequestForm(), None, slots={"service_request_tag": "7XK2M93"}
    )
    assert outcome.responses == ["utter_change_cancelled"]
    assert outcome.slot("service_request_tag") is None
    assert outcome.slot("service_request_description") is None


async def test_opening_a_request_in_spanish_for_diego(services, run):
    token = services.token("diego.admin@globex.example")
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        token,
        FORM,
        {"service_request_tag": "mx7p2k9", "service_request_description": "no enciende"},
        language="es",
    )
    assert checked.responses == ["utter_description_length"]
    assert checked.slot("service_request_tag") == "MX7P2K9"
    proposed = await run(
        ActionOpenServiceRequest(),
        token,
        slots={
            "language": "es",
            "service_request_tag": "MX7P2K9",
            "service_request_description": "No enciende después de actualizar el BIOS",
        },
    )
    assert proposed.responses == ["utter_service_request_summary", "utter_confirm_buttons"]
    assert proposed.slot("pending_change")["params"]["service_tag"] == "MX7P2K9"


async def test_request_status_in_spanish_for_diego(services, run):
    outcome = await run(
        ActionServiceRequestStatus(),
        services.token("diego.admin@globex.example"),
        entities=[entity("service_request_number", "2000000001")],
        slots={"language": "es"},
    )
    values = outcome.values("utter_service_request_status")
    with Session(services.engine) as session:
        opened = session.scalar(select(m.ServiceRequest.opened_at).filter_by(number="2000000001"))
    assert values["status"] == "abierta"
    assert values["opened"] == language.day(opened.date(), "es")


async def test_without_signing_in_the_form_stops_at_once(run):
    checked = await check_form(
        ValidateOpenServiceRequestForm(), None, FORM, {"service_request_tag": "7XK2M93"}
    )
    assert checked.responses == ["utter_sign_in_required"]
    assert checked.slot("requested_slot") is None and checked.slot("service_request_tag") is None
    assert (await run(ActionOpenServiceRequest(), None)).responses == []


async def test_after_a_question_the_form_only_names_the_next_slot(services, run):
    # Rasa lets a question interrupt a form only if its validation sets no answer slots.
    checked = await check_form(
        ValidateOpenServiceRequestForm(),
        services.token(BEN),
        FORM,
        {},
        slots={"service_request_tag": "7XK2M93"},
    )
    assert checked.responses == []
    assert checked.events == [
        {
            "event": "slot",
            "timestamp": None,
            "name": "requested_slot",
            "value": "service_request_description",
        }
    ]


# --- the message that starts the form ------------------------------------------------------


async def start_request(token, text: str, said_tag: str, value: str, language: str = "en"):
    """validate_open_service_request_form on the message that starts the form."""
    return await start_form(
        ValidateOpenServiceRequestForm(),
        token,
        FORM,
        text=text,
        intent="open_service_request",
        entities=[entity_in(text, "service_tag", said_tag, value)],
        language=language,
    )


async def test_a_request_that_says_what_is_wrong_is_asked_nothing_more(services, run):
    token = services.token(BEN)
    started = await start_request(
        token, "open a service request for 3FJ8K21: the screen flickers", "3FJ8K21", "3FJ8K21"
    )
    assert started.responses == []
    assert started.slot("service_request_tag") == "3FJ8K21"
    assert started.slot("service_request_description") == "the screen flickers"
    assert started.slot("requested_slot") is None
    proposed = await run(
        ActionOpenServiceRequest(),
        token,
        slots={
            "service_request_tag": started.slot("service_request_tag"),
            "service_request_description": started.slot("service_request_description"),
        },
    )
    assert proposed.responses == ["utter_service_request_summary", "utter_confirm_buttons"]
    assert proposed.values("utter_service_request_summary")["description"] == (
        "the screen flickers"
    )


async def test_a_request_in_spanish_that_says_what_is_wrong(services, run):
    started = await start_request(
        services.token("diego.admin@globex.example", "Acme Corporation"),
        "abre una solicitud de servicio para 3fj8k21: la pantalla parpadea",
        "3fj8k21",
        "3FJ8K21",
        language="es",
    )
    assert started.responses == []
    assert started.slot("service_request_tag") == "3FJ8K21"
    assert started.slot("service_request_description") == "la pantalla parpadea"
    assert started.slot("requested_slot") is None


async def test_a_reason_after_because_or_porque_is_the_description(services, run):
    token = services.token(BEN)
    text = "please open a ticket for 3FJ8K21 because the fan is really loud"
    started = await start_request(token, text, "3FJ8K21", "3FJ8K21")
    assert started.slot("service_request_description") == "the fan is really loud"
    assert started.slot("requested_slot") is None
    text = "abre un caso para 3FJ8K21 que no enciende desde ayer"
    started = await start_request(token, text, "3FJ8K21", "3FJ8K21", language="es")
    assert started.slot("service_request_description") == "no enciende desde ayer"
    assert started.slot("requested_slot") is None


async def test_a_request_with_only_the_tag_still_asks_what_is_wrong(services, run):
    started = await start_request(
        services.token(BEN), "open a service request for 3FJ8K21", "3FJ8K21", "3FJ8K21"
    )
    assert started.responses == []
    assert started.slot("service_request_tag") == "3FJ8K21"
    assert started.slot("service_request_description") in (None, "<unset>")
    assert started.slot("requested_slot") == "service_request_description"


async def test_another_accounts_tag_in_the_request_is_asked_again_and_the_problem_kept(
    services, run
):
    started = await start_request(
        services.token(BEN),
        "open a service request for MX4R8T2: the screen flickers",
        "MX4R8T2",
        "MX4R8T2",
    )
    assert started.responses == ["utter_not_found"]
    assert started.slot("service_request_tag") is None
    assert started.slot("service_request_description") == "the screen flickers"
    assert started.slot("requested_slot") == "service_request_tag"


async def test_a_refused_request_takes_nothing_from_its_message(services, run):
    started = await start_request(
        services.token("eve.rep@vendor.example"),
        "open a service request for 7XK2M93: the screen flickers",
        "7XK2M93",
        "7XK2M93",
    )
    assert started.responses == ["utter_denied_role"]
    assert started.slot("service_request_tag") is None
    assert started.slot("service_request_description") is None
    assert started.slot("requested_slot") is None


# --- what the actions show as data beside the text ---------------------------------------


def requests_of(services, account: str):
    with Session(services.engine) as session:
        query = select(m.ServiceRequest.number, m.ServiceRequest.status)
        return dict(session.execute(query.filter_by(account_id=services.account_id(account))).all())


async def test_the_account_team_is_a_list_of_contacts(services, run):
    outcome = await run(ActionShowAccountTeam(), services.token(BEN))
    shown = outcome.data("utter_account_team")
    assert (shown["type"], shown["kind"]) == ("list", "account_team")
    maya = next(item for item in shown["items"] if item["title"] == "Maya Chen")
    assert maya["id"] == "maya.chen@vendor.example"
    assert maya["subtitle"] == "Account executive"
    assert field_values(maya["fields"]) == {
        "email": "maya.chen@vendor.example",
        "phone": "+1 512 555 0141",
    }


async def test_documents_are_a_list_with_their_links(services, run):
    outcome = await run(
        ActionListDocuments(),
        services.token("diego.admin@globex.example"),
        slots={"language": "es"},
    )
    shown = outcome.data("utter_documents")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "documents", "Globex México")
    assert {item["title"] for item in shown["items"]} == {
        "Términos del contrato Premier",
        "Catálogo de configuraciones estándar",
    }
    text = outcome.values("utter_documents")["documents"]
    for item in shown["items"]:
        assert item["link"]["label"] == "Descargar"
        assert item["link"]["url"] in text
        assert field_labels(item["fields"]) == {"published_on": "Publicado"}


async def test_support_history_is_a_list_of_requests_open_first(services, run):
    outcome = await run(ActionSupportHistory(), services.token(BEN))
    shown = outcome.data("utter_support_history")
    assert (shown["type"], shown["kind"]) == ("list", "service_requests")
    assert {item["id"]: item["status"]["value"] for item in shown["items"]} == requests_of(
        services, "Acme Corporation"
    )
    still_open = [item["status"]["value"] in OPEN for item in shown["items"]]
    assert still_open == sorted(still_open, reverse=True)  # open and in progress first
    tones = {item["id"]: item["status"]["tone"] for item in shown["items"]}
    assert (tones["1000000001"], tones["1000000002"], tones["1000000003"]) == ("warn", "info", "ok")
    closed = next(item for item in shown["items"] if item["id"] == "1000000003")
    assert set(field_values(closed["fields"])) == {"service_tag", "opened_on", "closed_on"}


async def test_a_request_status_is_a_card_in_the_persons_language(services, run):
    outcome = await run(
        ActionServiceRequestStatus(),
        services.token("diego.admin@globex.example"),
        entities=[entity("service_request_number", "2000000001")],
        slots={"language": "es"},
    )
    shown = outcome.data("utter_service_request_status")
    assert (shown["type"], shown["kind"]) == ("card", "service_request")
    item = shown["item"]
    assert item["id"] == "2000000001"
    assert item["subtitle"] == "No arranca después de actualizar BIOS"
    assert item["status"] == {"value": "open", "label": "abierta", "tone": "warn"}
    assert field_labels(item["fields"]) == {
        "service_tag": "Etiqueta de servicio",
        "opened_on": "Abierta",
    }
    assert field_values(item["fields"])["service_tag"] == "MX7P2K9"


async def test_a_request_summary_carries_what_will_be_opened(services, run):
    description = "The screen flickers after waking up"
    outcome = await run(
        ActionOpenServiceRequest(),
        services.token(BEN),
        slots={"service_request_tag": "3FJ8K21", "service_request_description": description},
    )
    shown = outcome.data("utter_service_request_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "open_service_request",
        "3FJ8K21",
    )
    assert field_values(shown["fields"]) == {
        "service_tag": "3FJ8K21",
        "product": "OptiPlex 7010 desktop",
        "description": description,
    }
    assert requests_described(services, description) == 0  # nothing before "yes"
