"""Account team, documents, support history, service request status, and opening a request.

Opening a request is a form (`open_service_request_form`): the service tag is
checked against the account's devices through the services (another account's
tag is "not found", and audited there), the description needs a few words; then
a summary is shown and the request waits for "yes" (see `actions.changes`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from actions import i18n, view
from actions.base import AccountAction, ListAction, Turn
from actions.changes import propose, register
from actions.forms import AccountFormValidation, FormSubmission, LeaveForm, link_minutes
from bot.chat.replies import CardData, ConfirmationData, Item, Link, ListData
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
    kind = "account_team"

    def name(self) -> str:
        return "action_show_account_team"

    async def fetch(self, turn: Turn) -> List[schemas.TeamContactOut]:
        return await turn.session.account_team()

    def line(self, turn: Turn, item: schemas.TeamContactOut) -> str:
        return f"• {item.name} — {item.title} · {item.email} · {item.phone}"

    def item(self, turn: Turn, item: schemas.TeamContactOut) -> Item:
        return Item(
            id=item.email,
            title=item.name,
            subtitle=item.title,
            fields=view.fields(turn, email=item.email, phone=item.phone),
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
        lines, items, minutes = [], [], 0
        download = i18n.field_label("download", turn.language)
        for document in documents:
            link = await turn.session.document_link(document.id)
            minutes = link_minutes(link)
            lines.append(f"• {document.title} · {turn.day(document.published_on)}\n  {link.url}")
            items.append(
                Item(
                    id=str(document.id),
                    title=document.title,
                    fields=view.fields(turn, published_on=turn.day(document.published_on)),
                    link=Link(label=download, url=link.url),
                )
            )
        turn.show(
            "utter_documents",
            ListData("documents", turn.account.name, items),
            account=turn.account.name,
            count=len(documents),
            documents="\n".join(lines),
            minutes=minutes,
        )


def request_line(turn: Turn, request: schemas.ServiceRequestOut) -> str:
    when = request.closed_at if request.closed_at else request.opened_at
    return (
        f"• {request.number} · "
        f"{request.service_tag or i18n.missing('no_device', turn.language)} · "
        f"{request.summary} · "
        f"{i18n.status(request.status, turn.language)} · {turn.day(when)}"
    )


def request_item(turn: Turn, request: schemas.ServiceRequestOut) -> Item:
    """A service request as data: number, summary, status, device and its dates."""
    return Item(
        id=request.number,
        title=request.number,
        subtitle=request.summary,
        status=view.status(turn, request.status),
        fields=view.fields(
            turn,
            service_tag=request.service_tag or i18n.missing("no_device", turn.language),
            opened_on=turn.day(request.opened_at),
            closed_on=turn.day(request.closed_at) if request.closed_at else None,
        ),
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
        none = i18n.missing("no_requests", turn.language)
        shown = [request_item(turn, r) for r in (*still_open, *closed)]
        turn.show(
            "utter_support_history",
            ListData("service_requests", turn.account.name, shown),
            account=turn.account.name,
            open_count=len(still_open),
            open="\n".join(request_line(turn, r) for r in still_open) or none,
            closed_count=len(closed),
            closed="\n".join(request_line(turn, r) for r in closed) or none,
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
        turn.show(
            "utter_service_request_status",
            CardData("service_request", request_item(turn, request)),
            number=request.number,
            status=i18n.status(request.status, turn.language),
            summary=request.summary,
            service_tag=request.service_tag or i18n.missing("no_device", turn.language),
            opened=turn.day(request.opened_at),
            closed=turn.day(request.closed_at)
            if request.closed_at
            else i18n.missing("not_yet", turn.language),
        )


# --- opening a service request -------------------------------------------------------------

SERVICE_REQUEST_SLOTS: Tuple[str, ...] = ("service_request_tag", "service_request_description")


class ValidateOpenServiceRequestForm(AccountFormValidation):
    capability = "open_service_request"
    form_slots = SERVICE_REQUEST_SLOTS
    # "open a service request for 3FJ8K21: the screen flickers" says what is wrong.
    request_text_slot = "service_request_description"

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
        summary = ConfirmationData(
            "open_service_request",
            device.service_tag,
            view.fields(
                turn,
                service_tag=device.service_tag,
                product=device.product,
                description=description,
            ),
        )
        turn.show(
            "utter_service_request_summary",
            summary,
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
