"""Run actions the way the action server does, against the real (seeded) services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import use_services
from bot.client import AccountServices
from tests.conftest import ROOT

# The real domain, as the Rasa server sends it to the action server.
DOMAIN: Dict[str, Any] = Domain.load(str(ROOT / "domain")).as_dict()


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


@pytest.fixture
async def run(services):
    """run(action, token, **tracker_fields) -> Outcome."""
    client = AccountServices(services.base_url)
    use_services(client)

    async def runner(action: Action, token: Optional[str], **fields: Any) -> Outcome:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, build_tracker(token, **fields), DOMAIN)
        return Outcome(dispatcher.messages, [dict(e) for e in events])

    yield runner
    use_services(None)
    await client.aclose()
