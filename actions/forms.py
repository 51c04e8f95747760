"""What every form needs: validation with the same identity and permission check as its
change, a submission that proposes the change, and leaving a form cleanly on "cancel".

Used by the forms of the contracts, support, reports and users areas.
"""

from __future__ import annotations

import abc
import datetime as dt
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AccountAction, Turn
from bot.services import schemas

REQUESTED_SLOT = "requested_slot"


class AccountFormValidation(AccountAction):
    """`validate_<form>`, run with the same identity and permission check as its change.

    Rasa calls it with the slot candidates of the latest message. Each
    `check_<slot>(value, turn)` returns the value to keep (None: say why, ask again);
    `also()` then sees all the values together. It also names the next slot to
    ask for; a run that never reached the checks (refused, signed out, services
    down) has already said why, so the form stops there and forgets what it
    had collected.
    """

    form_slots: Tuple[str, ...] = ()
    # Slots the form fills besides its questions (cleared with them).
    extra_slots: Tuple[str, ...] = ()

    async def act(self, turn: Turn) -> None:
        candidates = turn.tracker.slots_to_validate()
        values = {name: turn.slot(name) for name in self.form_slots}
        answered = [name for name in self.form_slots if name in candidates]
        for name in answered:
            values[name] = await getattr(self, f"check_{name}")(candidates[name], turn)
        await self.also(turn, values, answered)
        for name in self.form_slots:
            if name in answered or values[name] != turn.slot(name):
                turn.events.append(SlotSet(name, values[name]))
        missing = next((name for name in self.form_slots if values[name] is None), None)
        turn.events.append(SlotSet(REQUESTED_SLOT, missing))

    async def also(self, turn: Turn, values: Dict[str, Any], answered: List[str]) -> None:
        """Check answers against each other (set a value to None to ask again, after
        saying why), or fill slots that are not asked for (a period said in passing)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        if any(e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT for e in events):
            return events
        cleared = [SlotSet(name, None) for name in (*self.form_slots, *self.extra_slots)]
        return [*events, *cleared, SlotSet(REQUESTED_SLOT, None)]


class FormSubmission(AccountAction):
    """The action a completed form runs (see the forms' rules).

    A form that stopped early (refused, signed out, services down) ends with its
    slots empty and has already said why: then there is nothing to do or say.
    """

    form_slots: Tuple[str, ...] = ()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if any(tracker.get_slot(name) is None for name in self.form_slots):
            return []
        return await super().run(dispatcher, tracker, domain)

    def answers(self, turn: Turn) -> List[Any]:
        """The form's answers, which are then forgotten: the pending change keeps them."""
        turn.events.extend(SlotSet(name, None) for name in self.form_slots)
        return [turn.slot(name) for name in self.form_slots]


class LeaveForm(Action, abc.ABC):
    """A "cancel" inside a form: after `action_deactivate_loop`, forget its slots and say so."""

    form_slots: Tuple[str, ...] = ()

    @abc.abstractmethod
    def name(self) -> str: ...

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_change_cancelled")
        return [SlotSet(name, None) for name in self.form_slots]


def plain_text(text: str, as_spaces: str = "") -> str:
    """What people type, folded for matching: lower case, no accents, one space between words.

    The characters in `as_spaces` count as spaces: ('EE. UU.', '.') -> 'ee uu',
    ('Dos-Años', '-') -> 'dos anos', 'Últimos  DÍAS' -> 'ultimos dias'.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    for char in as_spaces:
        bare = bare.replace(char, " ")
    return " ".join(bare.split())


def link_minutes(link: schemas.Link, now: Optional[dt.datetime] = None) -> int:
    """How many minutes a signed link stays valid (at least 1)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    expires = link.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return max(1, round((expires - now).total_seconds() / 60))
