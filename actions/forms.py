"""What every form needs: validation with the same identity and permission check as its
change, a submission that proposes the change, and leaving a form cleanly on "cancel".

Used by the forms of the contracts, support, reports and users areas.

The message that starts a form often answers some of its questions already ("open a
service request for 3FJ8K21: the screen flickers", "invite x@acme.example as a buyer").
Rasa applies the domain's `active_loop` slot mappings only once the form is active, so
on that first message `first_message_slots` takes what they would have taken (and, for
a form that declares one, the free text after the request's own words), and the form
asks only for what is still missing.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n
from actions.base import AccountAction, Turn
from bot.services import schemas

REQUESTED_SLOT = "requested_slot"
# A free-text answer in the first message needs at least this many words to count as one.
REQUEST_TEXT_MIN_WORDS = 3


class AccountFormValidation(AccountAction):
    """`validate_<form>`, run with the same identity and permission check as its change.

    Rasa calls it with the slot candidates of the latest message; on the message
    that starts the form (the form is not active yet) those also include what
    `first_message_slots` finds in it. Each
    `check_<slot>(value, turn)` returns the value to keep (None: say why, ask again);
    `also()` then sees all the values together. It also names the next slot to
    ask for; a run that never reached the checks (refused, signed out, services
    down) has already said why, so the form stops there and forgets what it
    had collected.
    """

    form_slots: Tuple[str, ...] = ()
    # Slots the form fills besides its questions (cleared with them).
    extra_slots: Tuple[str, ...] = ()
    named_account_allowed = False
    # The free-text slot the starting message may already answer after the request's own
    # words ("...for 3FJ8K21: the screen flickers"); None: only entities count.
    request_text_slot: Optional[str] = None

    def form_name(self) -> str:
        return self.name()[len("validate_") :]

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
        if started_by_latest_message(tracker, self.form_name()):
            # The message that starts the form: its answers become candidates, as rasa-sdk's
            # `extract_<slot>` results do.
            found = first_message_slots(
                tracker, domain, self.form_name(), self.form_slots, self.request_text_slot
            )
            tracker.add_slots([SlotSet(name, value) for name, value in found.items()])
        events = await super().run(dispatcher, tracker, domain)
        if any(e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT for e in events):
            return events
        cleared = [SlotSet(name, None) for name in (*self.form_slots, *self.extra_slots)]
        return [*events, *cleared, SlotSet(REQUESTED_SLOT, None)]


# --- what the message that starts a form already answers --------------------------------


def _applies_when_starting(mapping: Dict[str, Any], form: str, intent: Optional[str]) -> bool:
    """Whether a from_entity mapping of the domain would fill its slot once `form` is active.

    A mapping that waits for its own question (`requested_slot`) does not: nothing has
    been asked yet.
    """
    if mapping.get("type") != "from_entity":
        return False
    conditions = mapping.get("conditions") or []
    if conditions and not any(
        c.get("active_loop") == form and not c.get("requested_slot") for c in conditions
    ):
        return False
    wanted, refused = mapping.get("intent") or [], mapping.get("not_intent") or []
    wanted = [wanted] if isinstance(wanted, str) else wanted
    refused = [refused] if isinstance(refused, str) else refused
    return intent in wanted if wanted else intent not in refused


def _entity_key(item: Dict[str, Any]) -> Tuple[Any, Any, Any]:
    return item.get("entity"), item.get("role"), item.get("group")


def started_by_latest_message(tracker: Tracker, form: str) -> bool:
    """Whether this validation is the form's activation by the latest message.

    Rasa validates an activation with the form already marked active in some paths
    and not in others; what tells it apart is that nothing had been asked yet: before
    the latest user message, no question of the form was pending.
    """
    if tracker.active_loop_name != form:
        return True
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    asked = None
    for event in events[: max(last_user, 0)]:
        if event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT:
            asked = event.get("value")
        elif event.get("event") == "active_loop" and event.get("name") is None:
            asked = None  # a form that ended leaves no question pending
    return asked is None


def first_message_slots(
    tracker: Tracker,
    domain: Dict[str, Any],
    form: str,
    slots: Sequence[str],
    text_slot: Optional[str] = None,
) -> Dict[str, Any]:
    """The answers to `form`'s questions in the message that starts it, by slot.

    Entities fill the slots whose domain mappings would take them inside the form (a
    list slot takes every value, another the last one, as Rasa does); an entity two
    of the form's slots could take fills neither. `text_slot`, if given and still
    empty, takes `request_text` of the message. Slots already set are left alone.
    """
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    entities: List[Dict[str, Any]] = list(message.get("entities") or [])
    specs = domain.get("slots") or {}
    ignored = ((domain.get("forms") or {}).get(form) or {}).get("ignored_intents") or []
    if intent in ignored:
        return {}
    mappings = {
        name: [
            m
            for m in (specs.get(name) or {}).get("mappings") or []
            if _applies_when_starting(m, form, intent)
        ]
        for name in slots
    }
    claims: Dict[Tuple[Any, Any, Any], int] = {}
    for name in slots:
        for key in {_entity_key(m) for m in mappings[name]}:
            claims[key] = claims.get(key, 0) + 1
    found: Dict[str, Any] = {}
    for name in slots:
        if tracker.get_slot(name) is not None:
            continue
        for mapping in mappings[name]:
            key = _entity_key(mapping)
            values = [e.get("value") for e in entities if _entity_key(e) == key]
            if values and claims[key] == 1:
                is_list = (specs.get(name) or {}).get("type") == "list"
                found[name] = values if is_list else values[-1]
                break
    if text_slot and text_slot not in found and tracker.get_slot(text_slot) is None:
        text = request_text(str(message.get("text") or ""), entities)
        if text:
            found[text_slot] = text
    return found


def _words(words: Iterable[str]) -> str:
    return "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)


# Where a request goes on to say what it is about: after a colon (not in a time or a
# link), a spaced or long dash, a semicolon, or a reason word...
_REASON = re.compile(
    rf":(?!//|\d\d)|\s-\s|[—–]|;|(?<!\w)(?:{_words(i18n.reason_words())})(?!\w)",
    re.IGNORECASE,
)
# ... or, right after the thing it names, a comma or dash or one of a few more words.
_AFTER_SUBJECT = re.compile(
    rf"\s*(?:[,:;—–-]|(?:{_words(i18n.after_subject_words())})(?!\w))", re.IGNORECASE
)
_LEADING = " \t\n,:;—–-"


def request_text(text: str, entities: Sequence[Dict[str, Any]]) -> Optional[str]:
    """What a request says after its own words, if that is a few words at least.

    'open a service request for 3FJ8K21: the screen flickers' -> 'the screen flickers';
    'abre una solicitud para 3FJ8K21 porque la pantalla parpadea' -> 'la pantalla
    parpadea'; 'can you open a case for 7XK2M93, it keeps overheating' -> 'it keeps
    overheating'. A recognised entity that leads the rest is the request's own
    ('...: 3FJ8K21 - no video' -> 'no video'); one inside it stays ('...: no power on
    P4Z8N20'). 'open a service request for 3FJ8K21', a button's '/intent{...}' -> None.
    """
    if text.lstrip().startswith("/"):
        return None
    spans = sorted(
        (int(e["start"]), int(e["end"]))
        for e in entities
        if isinstance(e.get("start"), int)
        and isinstance(e.get("end"), int)
        and 0 <= e["start"] < e["end"] <= len(text)
    )

    def inside_an_entity(position: int) -> bool:
        return any(start <= position < end for start, end in spans)

    starts = [
        (m.start(), m.end()) for m in _REASON.finditer(text) if not inside_an_entity(m.start())
    ]
    for _, end in spans:
        after = _AFTER_SUBJECT.match(text, end)
        if after and after.end() > end:
            starts.append((end, after.end()))
    if not starts:
        return None
    rest_at = min(starts)[1]
    while True:
        while rest_at < len(text) and text[rest_at] in _LEADING:
            rest_at += 1
        leading = next((end for start, end in spans if start == rest_at), None)
        if leading is None:
            break
        rest_at = leading
    rest = " ".join(text[rest_at:].split())
    return rest if len(rest.split()) >= REQUEST_TEXT_MIN_WORDS else None


class FormSubmission(AccountAction):
    """The action a completed form runs (see the forms' rules).

    A form that stopped early (refused, signed out, services down) ends with its
    slots empty and has already said why: then there is nothing to do or say.
    """

    form_slots: Tuple[str, ...] = ()
    named_account_allowed = False

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
