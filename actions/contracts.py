"""Service contracts: the list, and renewals and upgrades through two forms.

`renew_contract_form` collects service_tags, duration and plan;
`upgrade_contract_form` collects service_tags and plan. A form asks only for
what is missing; its validator checks each new answer (the services say whether
a tag can be renewed or upgraded: they are the authority) and resets a wrong one
with a response saying what is wrong. A complete form is priced and proposed as
a change, and "yes" carries it out once (see `actions.changes`).
"""

from __future__ import annotations

import abc
import re
import unicodedata
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n
from actions.base import AccountAction, Turn
from actions.changes import propose, register
from actions.devices import days_left, plan_name, service_tags_in
from bot.client import errors
from bot.services import schemas

YEARS = range(1, 6)
BOTTOM_PLAN, TOP_PLAN = schemas.PLANS[0], schemas.PLANS[-1]
RENEW_FORM = "renew_contract_form"
UPGRADE_FORM = "upgrade_contract_form"
REQUESTED_SLOT = "requested_slot"
FORM_SLOTS = {
    RENEW_FORM: ("service_tags", "duration", "plan"),
    UPGRADE_FORM: ("service_tags", "plan"),
}
_YEARS_LABEL = {"en": ("1 year", "{n} years"), "es": ("1 año", "{n} años")}

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
    r"(?P<unit>years?|yrs?|anos?|months?|mes(?:es)?)\b"
)
_BARE_NUMBER = re.compile(rf"^\s*(?:for\s+|por\s+)?(?P<n>{_NUMBER})\s*$")
_PART_OF = re.compile(r"\b(?:half|medio|media)\b")


def _plain(text: str) -> str:
    """Lower case, no accents, hyphens as spaces: 'Dos Años' -> 'dos anos'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", bare.lower().replace("-", " ")).strip()


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
    text = _plain(value)
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
    text = _plain(value.replace("_", " "))
    compact = text.replace(" ", "")
    if "prosupportplus" in compact or re.search(r"\bplus\b", text):
        return "prosupport_plus"
    if "prosupport" in compact or re.search(r"\bpro\b", text):
        return "prosupport"
    if re.search(r"\bbasic[oa]?s?\b", text):
        return "basic"
    return None


def years_label(years: int, language: str) -> str:
    one, many = _YEARS_LABEL.get(language, _YEARS_LABEL["en"])
    return one if years == 1 else many.format(n=years)


# --- listing ----------------------------------------------------------------------------


def contract_line(turn: Turn, contract: schemas.ContractOut) -> str:
    return (
        f"• {contract.service_tag} · {contract.product} · "
        f"{plan_name(contract.plan, turn.language)} · "
        f"{i18n.status(contract.status, turn.language)} · "
        f"{turn.day(contract.ends_on)} ({days_left(contract.days_left, turn.language)})"
    )


class ActionListServiceContracts(AccountAction):
    """The account's contracts, those ending soonest first (the services' order)."""

    capability = "list_service_contracts"

    def name(self) -> str:
        return "action_list_service_contracts"

    async def act(self, turn: Turn) -> None:
        contracts = await turn.session.contracts()
        if not contracts:
            turn.say("utter_no_contracts", account=turn.account.name)
            return
        turn.say(
            "utter_contracts",
            account=turn.account.name,
            count=len(contracts),
            contracts="\n".join(contract_line(turn, c) for c in contracts),
        )


# --- the forms' validation --------------------------------------------------------------


def forget(form: str) -> List[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS[form]]


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
        turn.say("utter_already_top_plan", tag=tag, plan=plan_name(TOP_PLAN, turn.language))
    elif reason == "not_an_upgrade":
        turn.say("utter_not_an_upgrade", tag=tag, plan=plan_name(plan, turn.language))
    else:
        turn.say("utter_conflict")


def check_duration(turn: Turn, value: Any) -> Optional[int]:
    years = normalize_duration(value)
    if years not in YEARS:
        turn.say("utter_invalid_duration", duration=str(value))
        return None
    return years


def check_plan(turn: Turn, value: Any) -> Optional[str]:
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


class ContractFormValidation(AccountAction, abc.ABC):
    """`validate_<form>`, run with the same identity and permission check as the change.

    Rasa calls it with the answers in the latest message. A run that reaches the
    checks names the next slot to ask for (None: the form is complete); a run that
    does not (refused, signed out, services down) has already said why, so the
    form stops there and forgets its answers.
    """

    form: str = ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        if any(e.get("event") == "slot" and e.get("name") == REQUESTED_SLOT for e in events):
            return events
        return [*events, *forget(self.form), SlotSet(REQUESTED_SLOT, None)]

    async def act(self, turn: Turn) -> None:
        slots = FORM_SLOTS[self.form]
        answers = {s: v for s, v in turn.tracker.slots_to_validate().items() if s in slots}
        checked = await self.check(turn, answers)
        turn.events.extend(SlotSet(slot, value) for slot, value in checked.items())
        missing = (s for s in slots if checked.get(s, turn.slot(s)) is None)
        turn.events.append(SlotSet(REQUESTED_SLOT, next(missing, None)))

    @abc.abstractmethod
    async def check(self, turn: Turn, answers: Dict[str, Any]) -> Dict[str, Any]:
        """The value to keep for each answer; None resets it (after saying why)."""


class ValidateRenewContractForm(ContractFormValidation):
    capability = "renew_service_contract"
    form = RENEW_FORM

    def name(self) -> str:
        return "validate_renew_contract_form"

    async def check(self, turn: Turn, answers: Dict[str, Any]) -> Dict[str, Any]:
        checked: Dict[str, Any] = {}
        if "service_tags" in answers:
            checked["service_tags"] = await self.renewable(turn, answers["service_tags"])
        if "duration" in answers:
            checked["duration"] = check_duration(turn, answers["duration"])
        if "plan" in answers:
            checked["plan"] = check_plan(turn, answers["plan"])
        return checked

    async def renewable(self, turn: Turn, value: Any) -> Optional[List[str]]:
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


class ValidateUpgradeContractForm(ContractFormValidation):
    capability = "upgrade_service_contract"
    form = UPGRADE_FORM

    def name(self) -> str:
        return "validate_upgrade_contract_form"

    async def check(self, turn: Turn, answers: Dict[str, Any]) -> Dict[str, Any]:
        checked: Dict[str, Any] = {}
        tags = turn.slot("service_tags")
        if "service_tags" in answers:
            tags = checked["service_tags"] = await self.upgradeable(turn, answers["service_tags"])
        plan = turn.slot("plan")
        if "plan" in answers:
            plan = checked["plan"] = check_plan(turn, answers["plan"])
            if plan == BOTTOM_PLAN:
                turn.say("utter_bottom_plan_is_no_upgrade", plan=plan_name(plan, turn.language))
                plan = checked["plan"] = None
        # Tags are checked against the top plan; a lower plan must be above each of theirs too.
        lower = answers and tags and plan and plan != TOP_PLAN
        if lower and not await self.is_upgrade(turn, tags, plan):
            checked["plan"] = None
        return checked

    async def upgradeable(self, turn: Turn, value: Any) -> Optional[List[str]]:
        """Tags whose contracts are live and not yet on the top plan."""
        tags = check_tag_shape(turn, value)
        if tags is None:
            return None
        return tags if await self.is_upgrade(turn, tags, TOP_PLAN) else None

    async def is_upgrade(self, turn: Turn, tags: Sequence[str], plan: str) -> bool:
        try:
            await turn.session.upgrade_quote(tags, plan)
        except (errors.NotFound, errors.Conflict, errors.InvalidRequest) as problem:
            say_problem(turn, problem, plan)
            return False
        return True


class ActionLeaveContractForm(Action):
    """A "cancel" inside a contract form: after `action_deactivate_loop`, forget its answers."""

    def name(self) -> str:
        return "action_leave_contract_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_change_cancelled")
        return forget(RENEW_FORM)  # the renewal form's slots include the upgrade form's


# --- a complete form: price, propose, and (on "yes") do ---------------------------------


class ProposeContractChange(AccountAction, abc.ABC):
    """Runs after a contract form is complete; a form that was left has nothing to price."""

    form: str = ""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if not all(tracker.get_slot(slot) for slot in FORM_SLOTS[self.form]):
            return []
        return await super().run(dispatcher, tracker, domain)


class ActionQuoteContractRenewal(ProposeContractChange):
    capability = "renew_service_contract"
    form = RENEW_FORM

    def name(self) -> str:
        return "action_quote_contract_renewal"

    async def act(self, turn: Turn) -> None:
        tags, years, plan = turn.slot("service_tags"), int(turn.slot("duration")), turn.slot("plan")
        turn.events.extend(forget(self.form))
        try:
            quote = await turn.session.renewal_quote(tags, plan, years)
        except (errors.NotFound, errors.Conflict) as problem:  # changed since the form checked
            say_problem(turn, problem, plan)
            return
        turn.say(
            "utter_renewal_quote",
            plan=plan_name(plan, turn.language),
            years=years_label(years, turn.language),
            lines="\n".join(
                f"• {line.service_tag} · {turn.day(line.current_end)} → "
                f"{turn.day(line.new_end)} · {turn.money(line.price)}"
                for line in quote.lines
            ),
            total=turn.money(quote.total),
        )
        tags = [line.service_tag for line in quote.lines]
        propose(turn, "renew_contracts", {"service_tags": tags, "plan": plan, "years": years})


class ActionQuoteContractUpgrade(ProposeContractChange):
    capability = "upgrade_service_contract"
    form = UPGRADE_FORM

    def name(self) -> str:
        return "action_quote_contract_upgrade"

    async def act(self, turn: Turn) -> None:
        tags, plan = turn.slot("service_tags"), turn.slot("plan")
        turn.events.extend(forget(self.form))
        try:
            quote = await turn.session.upgrade_quote(tags, plan)
        except (errors.NotFound, errors.Conflict) as problem:  # changed since the form checked
            say_problem(turn, problem, plan)
            return
        turn.say(
            "utter_upgrade_quote",
            plan=plan_name(plan, turn.language),
            lines="\n".join(
                f"• {line.service_tag} · {plan_name(line.current_plan, turn.language)} → "
                f"{plan_name(line.new_plan, turn.language)} · {turn.day(line.new_end)} · "
                f"{turn.money(line.price)}"
                for line in quote.lines
            ),
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
        plan=plan_name(change.quote.plan, turn.language),
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
        plan=plan_name(change.quote.plan, turn.language),
        lines="\n".join(
            f"• {line.service_tag} · {turn.day(line.new_end)}" for line in change.quote.lines
        ),
        total=turn.money(change.quote.total),
    )
