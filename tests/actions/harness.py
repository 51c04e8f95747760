"""Building trackers and running actions the way Rasa and the action server do."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from rasa.shared.core.domain import Domain
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import tokens
from bot.chat.metadata import ChatMetadata
from bot.chat.replies import Reply
from tests.conftest import ROOT, TEST_VERIFY_KEY

# The real domain, as the Rasa server sends it to the action server.
DOMAIN: Dict[str, Any] = Domain.load(str(ROOT / "domain")).as_dict()


def chat_metadata(token: Optional[str]) -> Dict[str, Any]:
    """A message's metadata exactly as the chat layer attaches it for this token."""
    if not token:
        return {}
    try:
        claims = tokens.verify_token(TEST_VERIFY_KEY, token)
    except tokens.TokenError:  # an expired or forged token reaches the actions as it is
        return ChatMetadata(channel="portal", conversation="test", credential=token).to_message()
    return ChatMetadata(
        channel="portal",
        conversation=f"portal:{claims.user_id}",
        user_id=claims.user_id,
        account_id=claims.account_id,
        language=claims.language,
        credential=token,
    ).to_message()


def session_slots(token: Optional[str]) -> Dict[str, Any]:
    """The slots a session started on this token's page has (see ActionSessionStart)."""
    metadata = chat_metadata(token)
    return {"page_account": metadata["account_id"]} if "account_id" in metadata else {}


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

    def data(self, response: str) -> Dict[str, Any]:
        """What the message with `response` shows as data ({} for a text-only message).

        It is the message's "custom" (rasa-sdk's `json_message`), and it must come
        through the chat layer's output unchanged, as JSON.
        """
        custom = self.values(response).get("custom") or {}
        if custom:
            assert json.loads(json.dumps(custom)) == custom, "the data is not plain JSON"
            kept = Reply.from_bot_message({"text": "…", "custom": custom}).data
            assert kept == custom, f"the chat layer would drop {custom!r}"
        return custom


def field_values(fields: List[Dict[str, Any]]) -> Dict[str, str]:
    """name -> value of shown fields (a name that repeats: its last value)."""
    return {f["name"]: f["value"] for f in fields}


def field_labels(fields: List[Dict[str, Any]]) -> Dict[str, str]:
    """name -> label of shown fields."""
    return {f["name"]: f["label"] for f in fields}


def build_tracker(
    token: Optional[str],
    *,
    text: str = "",
    intent: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
) -> Tracker:
    metadata = chat_metadata(token)
    return Tracker(
        sender_id="test-conversation",
        slots={"language": "en", **session_slots(token), **(slots or {})},
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
    metadata = chat_metadata(token)
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    events = [
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata},
        {"event": "action", "name": form},
        *({"event": "slot", "name": k, "value": v} for k, v in candidates.items()),
    ]
    tracker = Tracker(
        sender_id="test-form",
        slots={"language": language, **session_slots(token), **(slots or {}), **candidates},
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


def entity_in(text: str, name: str, said: str, value: Optional[str] = None) -> Dict[str, Any]:
    """An entity as the NLU gives it: where `said` is in `text`, and its (normalised) value."""
    start = text.index(said)
    return {"entity": name, "value": value or said, "start": start, "end": start + len(said)}


async def start_form(
    action: Action,
    token: Optional[str],
    form: str,
    *,
    text: str,
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    language: str = "en",
) -> Outcome:
    """Run `validate_<form>` as Rasa does on the message that starts the form.

    The form is not active yet; Rasa's temporary tracker holds the user's message,
    the first slot to ask for, the form's action, and the form's slots that were
    already set (its only candidates: the form's own slot mappings did not apply).
    """
    metadata = chat_metadata(token)
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}}
    latest["entities"] = entities or []
    known = {"language": language, **session_slots(token), **(slots or {})}
    required = DOMAIN["forms"][form]["required_slots"]
    prefilled = {name: known[name] for name in required if known.get(name) is not None}
    first = next((name for name in required if name not in prefilled), None)
    events = [
        {"event": "user", "text": text, "parse_data": latest, "metadata": metadata},
        {"event": "slot", "name": "requested_slot", "value": first},
        {"event": "action", "name": form},
        *({"event": "slot", "name": k, "value": v} for k, v in prefilled.items()),
    ]
    tracker = Tracker(
        sender_id="test-form",
        slots={**known, "requested_slot": first},
        latest_message={**latest, "metadata": metadata},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=form,
    )
    dispatcher = CollectingDispatcher()
    returned = await action.run(dispatcher, tracker, DOMAIN)
    return Outcome(dispatcher.messages, [dict(e) for e in returned])
