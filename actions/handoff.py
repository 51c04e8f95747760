"""Talk to a person: open a handoff at the support desk with the conversation so far.

Three ways in (data/rules/session.yml, actions/fallback.py): the customer asks; the assistant
failed to understand twice in a row; or an action could not reach the account services and
the customer chose "talk to a person". The handoff carries what the agent needs to pick up
without asking again — the account, person, role, language, channel, what they were trying
to do, the slots so far and the transcript — and the services mask every card number and
token in it before it is stored (the layer masked the messages already; this is the second
line). From the reply on, the conversation layer's desk (`bot.handoff.desk`) keeps the
assistant silent in this conversation until the agent closes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AccountAction, Turn, message_token, turn_metadata
from bot.client import errors
from bot.handoff.desk import minutes

TRANSCRIPT_LINES = 60
MAX_LINE_CHARS = 2000
# Slots that are the assistant's bookkeeping, not what the customer was doing.
BOOKKEEPING_SLOTS = frozenset(
    {"language", "page_account", "session_started_metadata", "requested_slot", "fallback_count"}
)
# Intents that say nothing about what the customer was trying to do.
NOT_A_TOPIC = frozenset(
    {
        "request_human",
        "nlu_fallback",
        "out_of_scope",
        "affirm",
        "deny",
        "greet",
        "goodbye",
        "thanks",
        "cancel",
        "help",
        "bot_challenge",
    }
)


def transcript_of(tracker: Tracker) -> List[Dict[str, str]]:
    """The conversation's last messages, oldest first, as the desk stores them."""
    lines: List[Dict[str, str]] = []
    for event in tracker.events:
        kind, text = event.get("event"), event.get("text")
        if kind not in ("user", "bot") or not isinstance(text, str) or not text.strip():
            continue
        at = dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)
        who = "customer" if kind == "user" else "assistant"
        lines.append({"who": who, "text": text[:MAX_LINE_CHARS], "at": at.isoformat()})
    return lines[-TRANSCRIPT_LINES:]


def slots_of(tracker: Tracker) -> Dict[str, Any]:
    """The slots so far that describe the customer's request (plain values only)."""
    return {
        name: value
        for name, value in tracker.current_slot_values().items()
        if name not in BOOKKEEPING_SLOTS
        and value is not None
        and isinstance(value, (str, int, float, bool))
    }


def topic_of(tracker: Tracker) -> Optional[str]:
    """What they were trying to do: the open form, else their last meaningful request."""
    loop = (tracker.active_loop or {}).get("name")
    if loop:
        return str(loop)
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent and intent not in NOT_A_TOPIC:
            return str(intent)
    return None


def reason_of(tracker: Tracker) -> str:
    """Why the conversation goes to a person (the desk shows it)."""
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent == "nlu_fallback":
        return "not_understood"
    for event in reversed(tracker.events[:-1]):
        if event.get("event") == "bot":
            template = (event.get("metadata") or {}).get("utter_action")
            return "services_down" if template == "utter_services_unavailable" else "asked"
    return "asked"


class ActionHandoff(AccountAction):
    """Put the customer in the desk's queue and tell them their place and expected wait."""

    capability = "request_human"
    named_account_allowed = False

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if message_token(tracker) is None:  # a visitor: the public contacts are what we have
            return [FollowupAction("action_support_contact")]
        return await super().run(dispatcher, tracker, domain)

    async def act(self, turn: Turn) -> None:
        if turn.me.role not in ("site_admin", "buyer", "shopper"):
            turn.say("utter_handoff_vendor_staff")
            turn.events.append(FollowupAction("action_support_contact"))
            return
        metadata = turn_metadata(turn.tracker)
        channel = metadata.channel if metadata else "portal"
        conversation = turn.tracker.sender_id
        reason, topic = reason_of(turn.tracker), topic_of(turn.tracker)
        try:
            status = await turn.session.open_handoff(
                conversation_id=conversation,
                channel=channel if channel in ("widget", "slack", "portal") else "portal",
                language=turn.language,
                reason=reason,
                topic=topic,
                slots=slots_of(turn.tracker),
                transcript=transcript_of(turn.tracker),
            )
        except errors.Unavailable:
            turn.say("utter_handoff_unavailable")
            return
        summary = {
            "account_name": turn.account.name,
            "person_name": turn.me.name,
            "role": turn.me.role,
            "language": turn.language,
            "channel": channel,
            "reason": reason,
            "topic": topic,
            "created_at": _iso(status.created_at),
        }
        data = {
            "type": "handoff",
            "handoff": {
                "id": status.id,
                "state": status.state,
                "position": status.position,
                "expected_wait_seconds": status.expected_wait_seconds,
                "version": status.version,
                "language": turn.language,
            },
            "summary": summary,
        }
        turn.dispatcher.utter_message(
            response="utter_handoff_waiting",
            json_message=data,
            position=status.position or 1,
            minutes=minutes(status.expected_wait_seconds),
        )


def _iso(value: Any) -> Optional[str]:
    return value.isoformat() if isinstance(value, dt.datetime) else None
