"""Low-confidence input: offer the likeliest meaning (two when close); twice in a row, a person."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Dict, List

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.base import language_of

LABELS_PATH = Path(__file__).with_name("intent_labels.yml")
NOT_OFFERED = frozenset({"nlu_fallback", "out_of_scope", "affirm", "deny"})
# The second likeliest meaning is offered too only when it is about as likely as the first:
# within the FallbackClassifier's `ambiguity_threshold` (config.yml; a test keeps them equal).
# Otherwise a second button is mostly noise: on calibrated confidences a distant second is
# rarely what was meant.
CLOSE = 0.08


@cache
def intent_labels() -> Dict[str, Dict[str, str]]:
    with open(LABELS_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many user messages in a row, counting the latest, the assistant did not understand."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") != "nlu_fallback":
            break
        count += 1
    return max(count, 1)


class ActionClarify(Action):
    """Offer the likeliest intent as a button (two when close); after two misses, a person."""

    def name(self) -> str:
        return "action_clarify"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = language_of(tracker)
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_human")
            return [FollowupAction("action_handoff")]
        labels = intent_labels().get(language, intent_labels()["en"])
        options = likeliest(tracker.latest_message.get("intent_ranking") or [], labels)
        if not options:
            dispatcher.utter_message(response="utter_please_rephrase")
            return []
        buttons = [{"title": labels[name], "payload": f"/{name}"} for name in options]
        response = "utter_clarify" if len(options) == 2 else "utter_clarify_one"
        dispatcher.utter_message(response=response, buttons=buttons)
        return []


def likeliest(ranking: List[Dict[str, Any]], labels: Dict[str, str]) -> List[str]:
    """The likeliest meaning that can be offered, and the second too when it is as likely."""
    offered = [r for r in ranking if r.get("name") in labels and r["name"] not in NOT_OFFERED]
    if len(offered) >= 2:
        first, second = (float(r.get("confidence") or 0.0) for r in offered[:2])
        if first - second <= CLOSE:
            return [offered[0]["name"], offered[1]["name"]]
    return [r["name"] for r in offered[:1]]
