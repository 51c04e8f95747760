"""The forms' base: what the message that starts a form already answers (no services needed)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions.forms import first_message_slots, request_text
from tests.actions.harness import DOMAIN, entity_in


def tagged(text: str, said: Optional[str]) -> List[Dict[str, Any]]:
    return [entity_in(text, "service_tag", said, said.upper())] if said else []


@pytest.mark.parametrize(
    ("text", "tag", "description"),
    [
        (
            "open a service request for 3FJ8K21: the screen flickers",
            "3FJ8K21",
            "the screen flickers",
        ),
        (
            "abre una solicitud de servicio para 3FJ8K21: la pantalla parpadea",
            "3FJ8K21",
            "la pantalla parpadea",
        ),
        ("open a case for 3FJ8K21 - the fan is loud", "3FJ8K21", "the fan is loud"),
        ("open a case for 3FJ8K21 — the fan is loud", "3FJ8K21", "the fan is loud"),
        ("log a ticket because the screen is cracked", None, "the screen is cracked"),
        ("abre un caso porque la pantalla está rota", None, "la pantalla está rota"),
        ("abre un caso para 3FJ8K21 ya que no carga la batería", "3FJ8K21", "no carga la batería"),
        (
            "abre un caso para 3FJ8K21 que no enciende desde ayer",
            "3FJ8K21",
            "no enciende desde ayer",
        ),
        (
            "can you open a case for 7xk2m93, it keeps overheating",
            "7xk2m93",
            "it keeps overheating",
        ),
        (
            "open a ticket for 3FJ8K21 that won't boot after the update",
            "3FJ8K21",
            "won't boot after the update",
        ),
        # The tag leading the rest is the request's own; one inside it is part of the problem.
        ("open a service request: 3FJ8K21 - no video at all", "3FJ8K21", "no video at all"),
        ("raise a new case: no power on P4Z8N20", "P4Z8N20", "no power on P4Z8N20"),
        ("server 9QW-4T72 - amber light on drive bay 3", "9QW-4T72", "amber light on drive bay 3"),
        (
            "open a ticket for 3FJ8K21: fails at 10:30 every day",
            "3FJ8K21",
            "fails at 10:30 every day",
        ),
        # Nothing said after the request's own words, or too little to describe anything.
        ("open a service request for 3FJ8K21", "3FJ8K21", None),
        ("open a service request for 3FJ8K21 please", "3FJ8K21", None),
        ("open a service request for 3FJ8K21, thanks", "3FJ8K21", None),
        ("open a service request for 3FJ8K21: broken", "3FJ8K21", None),
        ("quiero que abras una solicitud para 3FJ8K21", "3FJ8K21", None),
        ("I need to open a support case", None, None),
        ("the meeting is at 10:30 tomorrow morning", None, None),
        ('/open_service_request{"service_tag": "3FJ8K21"}', None, None),
    ],
)
def test_what_a_request_says_after_its_own_words(text, tag, description):
    assert request_text(text, tagged(text, tag)) == description


def starting(text: str, intent: str, entities: List[Dict[str, Any]], **slots: Any) -> Tracker:
    return Tracker(
        sender_id="test-forms",
        slots={"language": "en", **slots},
        latest_message={"text": text, "intent": {"name": intent}, "entities": entities},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def test_entities_fill_the_slots_the_forms_mappings_name():
    text = "renew 3FJ8K21 and 9QW4T72 for 2 years on ProSupport"
    entities = [
        entity_in(text, "service_tag", "3FJ8K21"),
        entity_in(text, "service_tag", "9QW4T72"),
        entity_in(text, "duration", "2 years"),
        entity_in(text, "plan", "ProSupport", "prosupport"),
    ]
    tracker = starting(text, "renew_service_contract", entities)
    slots = ("service_tags", "duration", "plan")
    assert first_message_slots(tracker, DOMAIN, "renew_contract_form", slots) == {
        "service_tags": ["3FJ8K21", "9QW4T72"],  # a list slot takes every value
        "duration": "2 years",
        "plan": "prosupport",
    }
    # The upgrade form has no duration; the renewal's mapping does not apply to it.
    upgrade = first_message_slots(tracker, DOMAIN, "upgrade_contract_form", ("duration", "plan"))
    assert upgrade == {"plan": "prosupport"}


def test_a_slot_already_set_and_a_refused_intent_are_left_alone():
    text = "renew 3FJ8K21 on ProSupport"
    entities = [
        entity_in(text, "service_tag", "3FJ8K21"),
        entity_in(text, "plan", "ProSupport", "prosupport"),
    ]
    slots = ("service_tags", "plan")
    already = starting(text, "renew_service_contract", entities, plan="basic")
    found = first_message_slots(already, DOMAIN, "renew_contract_form", slots)
    assert found == {"service_tags": ["3FJ8K21"]}
    # The mappings' not_intent: a warranty question names a tag, but renews nothing.
    question = starting(text, "check_warranty", entities)
    assert first_message_slots(question, DOMAIN, "renew_contract_form", slots) == {}


def test_an_entity_two_slots_could_take_fills_neither():
    domain = {
        "slots": {
            name: {
                "type": "text",
                "mappings": [
                    {"type": "from_entity", "entity": "email", "conditions": [{"active_loop": "f"}]}
                ],
            }
            for name in ("from_email", "to_email")
        }
    }
    text = "move a@x.example"
    tracker = starting(text, "move", [entity_in(text, "email", "a@x.example")])
    assert first_message_slots(tracker, domain, "f", ("from_email", "to_email")) == {}


def test_a_mapping_that_waits_for_its_question_takes_nothing_from_the_first_message():
    text = "open a service request for 3FJ8K21: the screen flickers"
    tracker = starting(text, "open_service_request", tagged(text, "3FJ8K21"))
    slots = ("service_request_tag", "service_request_description")
    found = first_message_slots(tracker, DOMAIN, "open_service_request_form", slots)
    # from_text with requested_slot: only the form's declared free-text slot reads the text.
    assert found == {"service_request_tag": "3FJ8K21"}
    found = first_message_slots(
        tracker, DOMAIN, "open_service_request_form", slots, "service_request_description"
    )
    assert found == {
        "service_request_tag": "3FJ8K21",
        "service_request_description": "the screen flickers",
    }
