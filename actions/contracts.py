"""Service contracts: the list, and renewals and upgrades through two forms.

`renew_contract_form` collects service_tags, duration and plan;
`upgrade_contract_form` collects service_tags and plan. A form asks only for
what is missing; its validator checks each new answer (the services say whether
a tag can be renewed or upgraded: they are the authority) and resets a wrong one
with a response saying what is wrong. A complete form is priced and proposed as
a change, and "yes" carries it out once (see `actions.changes`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from actions import i18n, view
from actions.base import ListAction, Turn
from actions.changes import propose, register
from actions.devices import days_left, service_tags_in
from actions.forms import AccountFormValidation, FormSubmission, LeaveForm, plain_text
from bot.chat.replies import ConfirmationData, Item
from bot.client import errors
from bot.services import schemas

YEARS = range(1, 6)
BOTTOM_PLAN, TOP_PLAN = schemas.PLANS[0], schemas.PLANS[-1]
RENEW_FORM = "renew_contract_form"
UPGRADE_FORM = "upgrade_contract_form"
FORM_SLOTS = {
    RENEW_FORM: ("service_tags", "duration", "plan"),
    UPGRADE_FORM: ("service_tags", "plan"),
}

# --- what people type, normalised -------------------------------------------------------

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "another": 1, "single": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12,
    "eighteen": 18, "twenty four": 24, "thirty six": 36, "forty eight": 48, "sixty": 60,
    "zero": 0,
    "un": 1, "uno": 1, "una": 1, "otro": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "doce": 12, "dieciocho": 18,
    "veinticuatro": 24, "treinta y seis": 36, "cuarenta y ocho": 48, "sesenta": 60, "cero": 0,
}  # fmt: skip
_NUMBER = r"\d+(?:[.,]\d+)?|" + "|".join(
    re.escape(w) for w in sorted(_NUMBER_WORDS, key=len, reverse=True)
)
_AMOUNT = re.compile(
    rf"(?<![\w.,])(?P<n>{_NUMBER})\s*(?:more\s+|additional\s+|extra\s+|mas\s+)?"
    r"(?P<unit>years?|yrs?|anos?|months?|mos?|mes(?:es)?)\b"
)
_BARE_NUMBER = re.compile(rf"^\s*(?:for\s+|por\s+)?(?P<n>{_NUMBER})\s*$")
_PART_OF = re.compile(r"\b(?:half|medio|media)\b")


def _number(text: str) -> float:
    if text in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[text])
    return float(text.replace(",", "."))


def normalize_duration(value: Any) -> Optional[int]:
    """Whole years in a duration as people say it, or None when it is not whole years.

    '3 years', 'three years', '3 años', 'dos años' -> 3, 3, 3, 2; '24 months',
    '36 meses' -> 2, 3; a bare '2' means years; '18 months', 'forever' -> None.
    The range is not checked here: '7 years' -> 7, '0 years' -> 0.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() else None
    if not isinstance(value, str):
        return None
    text = plain_text(value, "-")
    if _PART_OF.search(text):
        return None
    found = _AMOUNT.search(text) or _BARE_NUMBER.match(text)
    if found is None:
        return None
    amount = _number(found["n"])
    if not amount.is_integer():
        return None
    unit = found.groupdict().get("unit") or "years"
    if unit.startswith("m"):  # months, meses
        return int(amount) // 12 if amount % 12 == 0 else None
    return int(amount)


def normalize_plan(value: Any) -> Optional[str]:
    """The plan code in what was said: 'ProSupport Plus' -> prosupport_plus, 'básico' -> basic."""
    if not isinstance(value, str):
        return None
    text = plain_text(value.replace("+", " plus "), "-_")
    compact = text.replace(" ", "")
    if "prosupportplus" in compact or re.search(r"\bplus\b", text):
        return "prosupport_plus"
    if "prosupport" in compact or re.search(r"\bpro\b", text):
        return "prosupport"
    if re.search(r"\bbasic[oa]?s?\b", text):
        return "basic"
    return None


def years_label(years: int, language: str) -> str:
    return i18n.years(years, language)


# --- listing ----------------------------------------------------------------------------


def contract_line(turn: Turn, contract: schemas.ContractOut) -> str:
    return (
        f"• {contract.service_tag} · {contract.product} · "
        f"{i18n.plan(contract.plan, turn.language)} · "
        f"{i18n.status(contract.status, turn.language)} · "
        f"{turn.day(contract.ends_on)} ({days_left(contract.days_left, turn.language)})"
    )


def contract_item(turn: Turn, contract: schemas.ContractOut) -> Item:
    return Item(
        id=contract.number,
        title=contract.service_tag,
        subtitle=contract.product,
        status=view.status(turn, contract.status),
        fields=view.fields(
            turn,
            plan=i18n.plan(contract.plan, turn.language),
            ends_on=turn.day(contract.ends_on),
            days_left=days_left(contract.days_left, turn.language),
        ),
    )


class ActionListServiceContracts(ListAction):
    """The account's contracts, those ending soonest first (the services' order)."""

    capability = "list_service_contracts"
    response, empty_response, lines_field = "utter_contracts", "utter_no_contracts", "contracts"
    kind = "contracts"

    def name(self) -> str:
        return "action_list_service_contracts"

    async def fetch(self, turn: Turn) -> List[schemas.ContractOut]:
        return await turn.session.contracts()

    def line(self, turn: Turn, item: schemas.ContractOut) -> str:
        return contract_line(turn, item)

    def item(self, turn: Turn, item: schemas.ContractOut) -> Item:
        return contract_item(turn, item)


# --- the forms' validation --------------------------------------------------------------


def say_problem(turn: Turn, problem: errors.AccountServicesError, plan: str = "") -> None:
    """The response for a tag or plan the services would not price."""
    if isinstance(problem, errors.NotFound):
        turn.say("utter_service_tag_not_found", tag=str(problem.details.get("id", "")))
        return
    if isinstance(problem, errors.InvalidRequest):
        turn.say("utter_invalid_input")
        return
    reason = problem.reason if isinstance(problem, errors.Conflict) else ""
    tag = str(problem.details.get("service_tag", ""))
    if reason == "no_contract":
        turn.say("utter_no_contract", tag=tag)
    elif reason == "contract_expired":
        turn.say("utter_contract_expired", tag=tag)
    elif reason == "not_an_upgrade" and plan == TOP_PLAN:
        turn.say("utter_already_top_plan", tag=tag, plan=i18n.plan(TOP_PLAN, turn.language))
    elif reason == "not_an_upgrade":
        turn.say("utter_not_an_upgrade", tag=tag, plan=i18n.plan(plan, turn.language))
    else:
        turn.say("utter_conflict")


def known_plan(turn: Turn, value: Any) -> Optional[str]:
    plan = normalize_plan(value)
    if plan is None:
        turn.say("utter_unknown_plan", plan=str(value))
    return plan


def check_tag_shape(turn: Turn, value: Any) -> Optional[List[str]]:
    tags = service_tags_in(value)
    if not tags:
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        turn.say("utter_invalid_service_tag", tag=shown)
        return None
    return tags


class ValidateRenewContractForm(AccountFormValidation):
    capability = "renew_service_contract"
    form_slots = FORM_SLOTS[RENEW_FORM]

    def name(self) -> str:
        return "validate_renew_contract_form"

    async def check_service_tags(self, value: Any, turn: Turn) -> Optional[List[str]]:
        tags = check_tag_shape(turn, value)
        if tags is None:
            return None
        try:
            # Any plan and duration will do: the question is whether each tag can be renewed.
            await turn.session.renewal_quote(tags, BOTTOM_PLAN, YEARS[0])
        except (errors.NotFound, errors.Conflict, errors.InvalidRequest) as problem:
            say_problem(turn, problem)
            return None
        return tags

    async def check_duration(self, value: Any, turn: Turn) -> Optional[int]:
        # "it runs out next week, renew it for a year": two durations (Rasa fills the slot
        # with both); the one in whole years is the renewal's term.
        if isinstance(value, list):
            terms = [v for v in value if normalize_duration(v) is not None] or value[-1:]
            value = terms[0] if terms else None
        years = normalize_duration(value)
        if years not in YEARS:
            turn.say("utter_invalid_duration", duration=str(value))
            return None
        return years

    async def check_plan(self, value: Any, turn: Turn) -> Optional[str]:
        return known_plan(turn, value)


class ValidateUpgradeContractForm(AccountFormValidation):
    capability = "upgrade_service_contract"
    form_slots = FORM_SLOTS[UPGRADE_FORM]

    def name(self) -> str:
        return "validate_upgrade_contract_form"

    async def check_service_tags(self, value: Any, turn: Turn) -> Optional[List[str]]:
        """Tags whose contracts are live and not yet on the top plan."""
        tags = check_tag_shape(turn, value)
        if tags is None:
            return None
        return tags if await self.is_upgrade(turn, tags, TOP_PLAN) else None

    async def check_plan(self, value: Any, turn: Turn) -> Optional[str]:
        plan = known_plan(turn, value)
        if plan == BOTTOM_PLAN:
            turn.say("utter_bottom_plan_is_no_upgrade", plan=i18n.plan(plan, turn.language))
            return None
        return plan

    async def also(self, turn: Turn, values: Dict[str, Any], answered: List[str]) -> None:
        """Tags are checked against the top plan; a lower plan must be above each of theirs."""
        tags, plan = values["service_tags"], values["plan"]
        lower = answered and tags and plan and plan != TOP_PLAN
        if lower and not await self.is_upgrade(turn, tags, plan):
            values["plan"] = None

    async def is_upgrade(self, turn: Turn, tags: Sequence[str], plan: str) -> bool:
        try:
            await turn.session.upgrade_quote(tags, plan)
        except (errors.NotFound, errors.Conflict, errors.InvalidRequest) as problem:
            say_problem(turn, problem, plan)
            return False
        return True


class ActionLeaveContractForm(LeaveForm):
    """A "cancel" inside a contract form: the renewal's slots include the upgrade's."""

    form_slots = FORM_SLOTS[RENEW_FORM]

    def name(self) -> str:
        return "action_leave_contract_form"


# --- a complete form: price, propose, and (on "yes") do ---------------------------------


class ActionQuoteContractRenewal(FormSubmission):
    capability = "renew_service_contract"
    form_slots = FORM_SLOTS[RENEW_FORM]

    def name(self) -> str:
        return "action_quote_contract_renewal"

    async def act(self, turn: Turn) -> None:
        tags, years, plan = self.answers(turn)
        years = int(years)
        try:
            quote = await turn.session.renewal_quote(tags, plan, years)
        except (errors.NotFound, errors.Conflict) as problem:  # changed since the form checked
            say_problem(turn, problem, plan)
            return
        lines = [
            f"{line.service_tag} · {turn.day(line.current_end)} → "
            f"{turn.day(line.new_end)} · {turn.money(line.price)}"
            for line in quote.lines
        ]
        summary = ConfirmationData(
            "renew_contracts",
            i18n.plan(plan, turn.language),
            [
                view.field(turn, "plan", i18n.plan(plan, turn.language)),
                view.field(turn, "duration", years_label(years, turn.language)),
                *(view.field(turn, "service_tag", line) for line in lines),
                view.field(turn, "total", turn.money(quote.total)),
            ],
        )
        turn.show(
            "utter_renewal_quote",
            summary,
            plan=i18n.plan(plan, turn.language),
            years=years_label(years, turn.language),
            lines="\n".join(f"• {line}" for line in lines),
            total=turn.money(quote.total),
        )
        tags = [line.service_tag for line in quote.lines]
        propose(turn, "renew_contracts", {"service_tags": tags, "plan": plan, "years": years})


class ActionQuoteContractUpgrade(FormSubmission):
    capability = "upgrade_service_contract"
    form_slots = FORM_SLOTS[UPGRADE_FORM]

    def name(self) -> str:
        return "action_quote_contract_upgrade"

    async def act(self, turn: Turn) -> None:
        tags, plan = self.answers(turn)
        try:
            quote = await turn.session.upgrade_quote(tags, plan)
        except (errors.NotFound, errors.Conflict) as problem:  # changed since the form checked
            say_problem(turn, problem, plan)
            return
        lines = [
            f"{line.service_tag} · {i18n.plan(line.current_plan, turn.language)} → "
            f"{i18n.plan(line.new_plan, turn.language)} · {turn.day(line.new_end)} · "
            f"{turn.money(line.price)}"
            for line in quote.lines
        ]
        summary = ConfirmationData(
            "upgrade_contracts",
            i18n.plan(plan, turn.language),
            [
                view.field(turn, "plan", i18n.plan(plan, turn.language)),
                *(view.field(turn, "service_tag", line) for line in lines),
                view.field(turn, "total", turn.money(quote.total)),
            ],
        )
        turn.show(
            "utter_upgrade_quote",
            summary,
            plan=i18n.plan(plan, turn.language),
            lines="\n".join(f"• {line}" for line in lines),
            total=turn.money(quote.total),
        )
        tags = [line.service_tag for line in quote.lines]
        propose(turn, "upgrade_contracts", {"service_tags": tags, "plan": plan})


@register("renew_contracts", capability="renew_service_contract")
async def renew_contracts(turn: Turn, params: Dict[str, Any], key: str) -> None:
    change = await turn.session.renew_contracts(
        params["service_tags"], params["plan"], params["years"], idempotency_key=key
    )
    turn.say(
        "utter_renewal_done",
        number=change.number,
        plan=i18n.plan(change.quote.plan, turn.language),
        lines="\n".join(
            f"• {line.service_tag} · {turn.day(line.new_end)}" for line in change.quote.lines
        ),
        total=turn.money(change.quote.total),
    )


@register("upgrade_contracts", capability="upgrade_service_contract")
async def upgrade_contracts(turn: Turn, params: Dict[str, Any], key: str) -> None:
    change = await turn.session.upgrade_contracts(
        params["service_tags"], params["plan"], idempotency_key=key
    )
    turn.say(
        "utter_upgrade_done",
        number=change.number,
        plan=i18n.plan(change.quote.plan, turn.language),
        lines="\n".join(
            f"• {line.service_tag} · {turn.day(line.new_end)}" for line in change.quote.lines
        ),
        total=turn.money(change.quote.total),
    )
