"""Building trackers and running actions the way Rasa and the action server do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.conftest import ROOT

# The real domain, as the Rasa server sends it to the action server.
DOMAIN: Dict[str, Any] = Domain.load(str(ROOT / "domain")).as_dict()


def entity(name: str, value: str) -> Dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


@dataclass
class Outcome:
    """What the person would see (response names and values) and the events returned."""

    messages: List[Dict[str, Any]]
    events: List[Dict[str, Any]]

    @property
    def responses(self) -> List[str]:
        return [m.get("response") for m in self.messages]

    def values(self, response: str) -> Dict[str, Any]:
        return next(m for m in self.messages if m.get("response") == response)

    def slot(self, name: str) -> Any:
        sets = [e for e in self.events if e.get("event") == "slot" and e.get("name") == name]
        return sets[-1]["value"] if sets else "<unset>"


def build_tracker(
    token: Optional[str],
    *,
    text: str = "",
    intent: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Tracker:
    metadata = {"token": token, "channel": "portal"} if token else {}
    return Tracker(
        sender_id="test-conversation",
        slots={"language": "en", **(slots or {})},
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 1.0},
            "entities": entities or [],
            "metadata": metadata,
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def check_form(
    action: Action,
    token: str,
    form: str,
    candidates: Dict[str, Any],
    *,
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: str = "",
    language: str = "en",
) -> Outcome:
    """Run `validate_<form>` as Rasa does: the new slot candidates follow the form's action."""
    metadata = {"token": token, "channel": "portal"}
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    events = [
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata},
        {"event": "action", "name": form},
        *({"event": "slot", "name": k, "value": v} for k, v in candidates.items()),
    ]
    tracker = Tracker(
        sender_id="test-form",
        slots={"language": language, **(slots or {}), **candidates},
        latest_message={**latest, "metadata": metadata},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": form},
        latest_action_name=form,
    )
    dispatcher = CollectingDispatcher()
    returned = await action.run(dispatcher, tracker, DOMAIN)
    return Outcome(dispatcher.messages, [dict(e) for e in returned])
