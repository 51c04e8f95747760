"""Every write is proposed, confirmed, then done once.

An area action calls `propose()` with a summary already shown; the change waits
in the `pending_change` slot with a fresh idempotency key. "Yes" runs
`ActionConfirmChange`, which re-checks the permission table for that change,
performs it with the stored key (a retried call cannot act twice) and moves
it to `last_change`; a second "yes" finds nothing pending and says it is
already done. "No" or "cancel" drops it.
"""

from __future__ import annotations

import uuid
from typing import Any, Awaitable, Callable, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AccountAction, Turn

Executor = Callable[[Turn, Dict[str, Any], str], Awaitable[None]]
# kind -> (capability, executor); filled by the area modules with `register`.
EXECUTORS: Dict[str, tuple[str, Executor]] = {}


def register(kind: str, capability: str) -> Callable[[Executor], Executor]:
    def wrap(executor: Executor) -> Executor:
        EXECUTORS[kind] = (capability, executor)
        return executor

    return wrap


def propose(turn: Turn, kind: str, params: Dict[str, Any]) -> None:
    """Ask for confirmation of `kind` with `params` (the summary was just shown)."""
    if kind not in EXECUTORS:
        raise KeyError(f"no executor registered for {kind!r}")
    pending = {
        "kind": kind,
        "params": params,
        "key": f"chat-{uuid.uuid4().hex}",
        "account": turn.account.name,
    }
    turn.events.append(SlotSet("pending_change", pending))
    turn.say("utter_confirm_buttons")


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

    async def act(self, turn: Turn) -> None:
        pending = turn.slot("pending_change")
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
