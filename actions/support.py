"""Account team, documents, support history, service request status, and opening a request.

Opening a request is a form (`open_service_request_form`): the service tag is
checked against the account's devices through the services (another account's
tag is "not found", and audited there), the description needs a few words; then
a summary is shown and the request waits for "yes" (see `actions.changes`).

The two form helpers below (`AccountFormValidation`, `LeaveForm`) are shared by
the forms of the support, reports and users areas.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
import unicodedata
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n
from actions.base import AccountAction, Turn
from actions.changes import propose, register
from bot.client import errors
from bot.services import schemas

REQUESTED_SLOT = "requested_slot"
MIN_DESCRIPTION_WORDS = 3
MAX_DESCRIPTION_CHARS = 2000
OPEN_STATUSES = ("open", "in_progress")
_REQUEST_NUMBER = re.compile(r"^[0-9]{10}$")


# --- form helpers ------------------------------------------------------------------------


class AccountFormValidation(AccountAction):
    """`validate_<form>`, run with the same identity and permission check as its change.

    Rasa calls it with the slot candidates of the latest message. Each
    `check_<slot>(value, turn)` returns the value to keep (None: say why, ask again).
    It also names the next slot to ask for; a run that never reached the checks
    (refused, signed out, services down) has already said why, so the form
    stops there and forgets what it had collected.
    """

    form_slots: Tuple[str, ...] = ()
    # Slots the form fills besides its questions (cleared with them).
    extra_slots: Tuple[str, ...] = ()

    async def act(self, turn: Turn) -> None:
        candidates = turn.tracker.slots_to_validate()
        values = {name: turn.slot(name) for name in self.form_slots}
        for name in self.form_slots:
            if name in candidates:
                values[name] = await getattr(self, f"check_{name}")(candidates[name], turn)
                turn.events.append(SlotSet(name, values[name]))
        await self.also(turn)
        missing = next((name for name in self.form_slots if values[name] is None), None)
        turn.events.append(SlotSet(REQUESTED_SLOT, missing))

    async def also(self, turn: Turn) -> None:
        """Fill slots that are not asked for (e.g. a period mentioned in passing)."""

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


def plain_text(text: str) -> str:
    """Lower case without accents, to match what people type: 'Últimos DÍAS' -> 'ultimos dias'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def link_minutes(link: schemas.Link, now: Optional[dt.datetime] = None) -> int:
    """How many minutes a signed link stays valid (at least 1)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    expires = link.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return max(1, round((expires - now).total_seconds() / 60))


# --- reads -------------------------------------------------------------------------------


class ActionShowAccountTeam(AccountAction):
    capability = "show_account_team"

    def name(self) -> str:
        return "action_show_account_team"

    async def act(self, turn: Turn) -> None:
        team = await turn.session.account_team()
        if not team:
            turn.say("utter_no_account_team", account=turn.account.name)
            return
        turn.say(
            "utter_account_team",
            account=turn.account.name,
            team="\n".join(f"• {c.name} — {c.title} · {c.email} · {c.phone}" for c in team),
        )


class ActionListDocuments(AccountAction):
    """The account team's documents, each with a signed PDF link."""

    capability = "list_documents"

    def name(self) -> str:
        return "action_list_documents"

    async def act(self, turn: Turn) -> None:
        documents = await turn.session.documents()
        if not documents:
            turn.say("utter_no_documents", account=turn.account.name)
            return
        lines, minutes = [], 0
        for document in documents:
            link = await turn.session.document_link(document.id)
            minutes = link_minutes(link)
            lines.append(f"• {document.title} · {turn.day(document.published_on)}\n  {link.url}")
        turn.say(
            "utter_documents",
            account=turn.account.name,
            count=len(documents),
            documents="\n".join(lines),
            minutes=minutes,
        )


def request_line(turn: Turn, request: schemas.ServiceRequestOut) -> str:
    when = request.closed_at if request.closed_at else request.opened_at
    return (
        f"• {request.number} · {request.service_tag or '—'} · {request.summary} · "
        f"{i18n.status(request.status, turn.language)} · {turn.day(when)}"
    )


class ActionSupportHistory(AccountAction):
    """Open (including in progress) and closed requests, newest first; one device if named."""

    capability = "support_history"

    def name(self) -> str:
        return "action_support_history"

    async def act(self, turn: Turn) -> None:
        requests = await turn.session.service_requests("all")
        tag = next(iter(turn.tracker.get_latest_entity_values("service_tag")), None)
        if tag:
            tag = schemas.normalize_service_tag(tag)
            requests = [r for r in requests if r.service_tag == tag]
        if not requests:
            turn.say("utter_no_support_history", account=turn.account.name)
            return
        still_open = [r for r in requests if r.status in OPEN_STATUSES]
        closed = [r for r in requests if r.status not in OPEN_STATUSES]
        turn.say(
            "utter_support_history",
            account=turn.account.name,
            open_count=len(still_open),
            open="\n".join(request_line(turn, r) for r in still_open) or "—",
            closed_count=len(closed),
            closed="\n".join(request_line(turn, r) for r in closed) or "—",
        )


class ActionServiceRequestStatus(AccountAction):
    capability = "service_request_status"

    def name(self) -> str:
        return "action_service_request_status"

    async def act(self, turn: Turn) -> None:
        raw = next(iter(turn.tracker.get_latest_entity_values("service_request_number")), "")
        number = re.sub(r"[\s\-]", "", str(raw))
        if not _REQUEST_NUMBER.match(number):
            turn.say("utter_ask_service_request_number")
            return
        request = await turn.session.service_request(number)
        turn.say(
            "utter_service_request_status",
            number=request.number,
            status=i18n.status(request.status, turn.language),
            summary=request.summary,
            service_tag=request.service_tag or "—",
            opened=turn.day(request.opened_at),
            closed=turn.day(request.closed_at) if request.closed_at else "—",
        )


# --- opening a service request -------------------------------------------------------------

SERVICE_REQUEST_SLOTS: Tuple[str, ...] = ("service_request_tag", "service_request_description")


class ValidateOpenServiceRequestForm(AccountFormValidation):
    capability = "open_service_request"
    form_slots = SERVICE_REQUEST_SLOTS

    def name(self) -> str:
        return "validate_open_service_request_form"

    async def check_service_request_tag(self, value: Any, turn: Turn) -> Optional[str]:
        tag = schemas.normalize_service_tag(str(value or ""))
        if not re.match(schemas.SERVICE_TAG, tag):
            turn.say("utter_invalid_service_request_tag", value=str(value or ""))
            return None
        try:
            device = await turn.session.device(tag)
        except errors.NotFound:
            turn.say("utter_not_found", what=i18n.thing("service tag", turn.language), id=tag)
            return None
        return device.service_tag

    async def check_service_request_description(self, value: Any, turn: Turn) -> Optional[str]:
        text = " ".join(str(value or "").split())
        if len(text.split()) < MIN_DESCRIPTION_WORDS or len(text) > MAX_DESCRIPTION_CHARS:
            turn.say(
                "utter_description_length",
                words=MIN_DESCRIPTION_WORDS,
                chars=f"{MAX_DESCRIPTION_CHARS:,}",
            )
            return None
        return text


class ActionOpenServiceRequest(FormSubmission):
    """The form is complete: show what will be opened and ask for "yes"."""

    capability = "open_service_request"
    form_slots = SERVICE_REQUEST_SLOTS

    def name(self) -> str:
        return "action_open_service_request"

    async def act(self, turn: Turn) -> None:
        tag, description = self.answers(turn)
        device = await turn.session.device(tag)
        turn.say(
            "utter_service_request_summary",
            service_tag=device.service_tag,
            product=device.product,
            description=description,
        )
        propose(turn, "open_service_request", {"service_tag": tag, "description": description})


@register("open_service_request", capability="open_service_request")
async def open_service_request(turn: Turn, params: Dict[str, Any], key: str) -> None:
    created = await turn.session.open_service_request(
        params["service_tag"], params["description"], idempotency_key=key
    )
    turn.say(
        "utter_service_request_opened",
        number=created.number,
        service_tag=created.service_tag or params["service_tag"],
    )


class ActionLeaveOpenServiceRequestForm(LeaveForm):
    form_slots = SERVICE_REQUEST_SLOTS

    def name(self) -> str:
        return "action_leave_open_service_request_form"
