"""Account team, documents, support history, service request status, and opening a request.

Opening a request is a form (`open_service_request_form`): the service tag is
checked against the account's devices through the services (another account's
tag is "not found", and audited there), the description needs a few words; then
a summary is shown and the request waits for "yes" (see `actions.changes`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from actions import i18n
from actions.base import AccountAction, ListAction, Turn
from actions.changes import propose, register
from actions.forms import AccountFormValidation, FormSubmission, LeaveForm, link_minutes
from bot.client import errors
from bot.services import schemas

REQUESTED_SLOT = "requested_slot"
MIN_DESCRIPTION_WORDS = 3
MAX_DESCRIPTION_CHARS = 2000
OPEN_STATUSES = ("open", "in_progress")
_REQUEST_NUMBER = re.compile(r"^[0-9]{10}$")


# --- reads -------------------------------------------------------------------------------


class ActionShowAccountTeam(ListAction):
    capability = "show_account_team"
    response, empty_response, lines_field = "utter_account_team", "utter_no_account_team", "team"

    def name(self) -> str:
        return "action_show_account_team"

    async def fetch(self, turn: Turn) -> List[schemas.TeamContactOut]:
        return await turn.session.account_team()

    def line(self, turn: Turn, item: schemas.TeamContactOut) -> str:
        return f"• {item.name} — {item.title} · {item.email} · {item.phone}"


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
