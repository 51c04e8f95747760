"""Low confidence: the likeliest meaning offered, the second only when it is as likely."""

from __future__ import annotations

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import CLOSE, ActionClarify
from tests.actions.harness import DOMAIN, build_tracker
from tests.conftest import ROOT


def unsure(ranking: list, language: str = "en", earlier_misses: int = 0) -> Tracker:
    tracker = build_tracker(None, text="hmm", intent="nlu_fallback", slots={"language": language})
    tracker.latest_message["intent_ranking"] = [
        {"name": "nlu_fallback", "confidence": 0.5},
        *({"name": name, "confidence": confidence} for name, confidence in ranking),
    ]
    miss = {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    tracker.events = [miss] * earlier_misses + [
        {"event": "user", "parse_data": tracker.latest_message}
    ]
    return tracker


async def clarify(tracker: Tracker) -> list:
    dispatcher = CollectingDispatcher()
    await ActionClarify().run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages


async def test_two_close_meanings_are_both_offered():
    (message,) = await clarify(unsure([("show_invoices", 0.41), ("pay_invoice", 0.37)]))
    assert message["response"] == "utter_clarify"
    assert [b["payload"] for b in message["buttons"]] == ["/show_invoices", "/pay_invoice"]


async def test_a_distant_second_is_not_offered():
    (message,) = await clarify(unsure([("list_users", 0.46), ("account_info", 0.21)]))
    assert message["response"] == "utter_clarify_one"
    assert [b["payload"] for b in message["buttons"]] == ["/list_users"]


async def test_meanings_that_cannot_be_offered_are_skipped_before_comparing():
    ranking = [
        ("out_of_scope", 0.44),
        ("affirm", 0.43),
        ("list_devices", 0.40),
        ("check_warranty", 0.36),
    ]
    (message,) = await clarify(unsure(ranking))
    assert [b["payload"] for b in message["buttons"]] == ["/list_devices", "/check_warranty"]


async def test_the_buttons_speak_the_persons_language():
    (message,) = await clarify(unsure([("show_invoices", 0.45)], language="es"))
    assert message["response"] == "utter_clarify_one"
    (button,) = message["buttons"]
    assert button["title"] != "Show invoices" and button["payload"] == "/show_invoices"


async def test_nothing_to_offer_asks_to_rephrase():
    (message,) = await clarify(unsure([("out_of_scope", 0.4)]))
    assert message["response"] == "utter_please_rephrase"


async def test_a_second_miss_in_a_row_offers_a_person():
    (message,) = await clarify(unsure([("show_invoices", 0.41)], earlier_misses=1))
    assert message["response"] == "utter_offer_human"


def test_close_is_the_fallback_classifiers_ambiguity_threshold():
    config = yaml.safe_load((ROOT / "config.yml").read_text())
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    assert fallback["ambiguity_threshold"] == pytest.approx(CLOSE)


def test_both_responses_exist_in_both_languages():
    for name in ("utter_clarify", "utter_clarify_one"):
        variants = DOMAIN["responses"][name]
        assert any(v.get("condition") for v in variants) and any(
            not v.get("condition") for v in variants
        )
