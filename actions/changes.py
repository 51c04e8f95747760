"""Every write is proposed, confirmed, then done once.

An area action calls `propose()` with a summary already shown; the change waits
in the `pending_change` slot with a fresh idempotency key, bound to what was
shown: the person, the account, the values, the conversation and the time, and
sealed with the action server's key. "Yes" runs `ActionConfirmChange`, which
acts only on exactly that - same seal, same person, same account, within
`PENDING_MINUTES` - and otherwise drops it with a sentence saying why. It
re-checks the permission table for that change, performs it with the stored key
(a retried call cannot act twice) and moves it to `last_change`; a second "yes"
finds nothing pending and says it is already done. "No" or "cancel" drops it;
so does a switch to another account.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AccountAction, Turn
from bot.settings import load_settings

PENDING_MINUTES = 10

Executor = Callable[[Turn, Dict[str, Any], str], Awaitable[None]]
# kind -> (capability, executor); filled by the area modules with `register`.
EXECUTORS: Dict[str, tuple[str, Executor]] = {}


def register(kind: str, capability: str) -> Callable[[Executor], Executor]:
    def wrap(executor: Executor) -> Executor:
        EXECUTORS[kind] = (capability, executor)
        return executor

    return wrap


@lru_cache(maxsize=1)
def _seal_key() -> bytes:
    secret = load_settings().chat_secret
    return hashlib.sha256(b"premier pending change\0" + secret.encode("utf-8")).digest()


def _seal(conversation: str, pending: Dict[str, Any]) -> str:
    body = {k: v for k, v in pending.items() if k != "seal"}
    message = json.dumps([conversation, body], sort_keys=True, separators=(",", ":"))
    return hmac.new(_seal_key(), message.encode("utf-8"), hashlib.sha256).hexdigest()


def propose(turn: Turn, kind: str, params: Dict[str, Any]) -> None:
    """Ask for confirmation of `kind` with `params` (the summary was just shown)."""
    if kind not in EXECUTORS:
        raise KeyError(f"no executor registered for {kind!r}")
    pending: Dict[str, Any] = {
        "kind": kind,
        "params": params,
        "key": f"chat-{uuid.uuid4().hex}",
        "account": turn.account.name,
        "account_id": turn.account.id,
        "user_id": turn.me.user_id,
        "proposed_at": int(time.time()),
    }
    pending["seal"] = _seal(turn.tracker.sender_id, pending)
    turn.events.append(SlotSet("pending_change", pending))
    turn.say("utter_confirm_buttons")


def why_not(turn: Turn, pending: Dict[str, Any], now: Optional[float] = None) -> Optional[str]:
    """The response explaining why `pending` must not run now, or None when it may."""
    seal = pending.get("seal")
    if not isinstance(seal, str) or not hmac.compare_digest(
        seal, _seal(turn.tracker.sender_id, pending)
    ):
        return "utter_pending_change_unknown"
    if pending.get("user_id") != turn.me.user_id or pending.get("account_id") != turn.account.id:
        return "utter_pending_change_other_account"
    age = (now or time.time()) - float(pending.get("proposed_at", 0))
    if not 0 <= age <= PENDING_MINUTES * 60:
        return "utter_pending_change_expired"
    return None


class ActionConfirmChange(AccountAction):
    """The person said yes: do the pending change, once."""

    def name(self) -> str:
        return "action_confirm_change"

    def capability_for(self, tracker: Tracker) -> str:
        pending = tracker.get_slot("pending_change") or {}
        entry = EXECUTORS.get(pending.get("kind", ""))
        return entry[0] if entry else "help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        pending = tracker.get_slot("pending_change")
        if not pending or pending.get("kind") not in EXECUTORS:
            if tracker.get_slot("last_change"):
                dispatcher.utter_message(response="utter_already_done")
            else:
                dispatcher.utter_message(response="utter_nothing_to_confirm")
            return []
        events = await super().run(dispatcher, tracker, domain)
        return [SlotSet("pending_change", None), *events]

    named_account_allowed = False

    async def act(self, turn: Turn) -> None:
        pending = turn.slot("pending_change")
        refusal = why_not(turn, pending)
        if refusal is not None:
            turn.say(refusal, account=pending.get("account", ""), minutes=PENDING_MINUTES)
            return
        _, executor = EXECUTORS[pending["kind"]]
        await executor(turn, pending["params"], pending["key"])
        # Only a change that went through counts as done; a failed one may be asked again.
        turn.events.append(SlotSet("last_change", pending))


class ActionCancelChange(Action):
    """The person said no or cancel: drop whatever was pending."""

    def name(self) -> str:
        return "action_cancel_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if tracker.get_slot("pending_change") or tracker.active_loop_name:
            dispatcher.utter_message(response="utter_change_cancelled")
            return [SlotSet("pending_change", None)]
        dispatcher.utter_message(response="utter_ok")
        return []
