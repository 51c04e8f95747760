"""Service contracts against the real services: the list, the two forms, quotes and changes.

The forms' validators are run the way Rasa runs them: the answers of the latest
message are the last events of the tracker (and already in its slots).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, Optional

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions import i18n
from actions.changes import ActionConfirmChange
from actions.contracts import (
    ActionLeaveContractForm,
    ActionListServiceContracts,
    ActionQuoteContractRenewal,
    ActionQuoteContractUpgrade,
    ValidateRenewContractForm,
    ValidateUpgradeContractForm,
    normalize_duration,
    normalize_plan,
)
from bot.services import models as m
from tests.actions.conftest import Outcome
from tests.actions.harness import (
    chat_metadata,
    entity_in,
    field_labels,
    field_values,
    session_slots,
    start_form,
)

ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
LENA = "lena.buyer@initech.example"
EVE = "eve.rep@vendor.example"
RENEW_SLOTS = ("service_tags", "duration", "plan")


def form_tracker(
    token: Optional[str], form: str, answers: Dict[str, Any], slots: Dict[str, Any]
) -> Tracker:
    events = [
        {"event": "user", "text": "", "parse_data": {}},
        {"event": "action", "name": form},
        *({"event": "slot", "name": name, "value": value} for name, value in answers.items()),
    ]
    return Tracker(
        sender_id="test-conversation",
        slots={"language": "en", **session_slots(token), **slots, **answers},
        latest_message={
            "text": "",
            "intent": {"name": "", "confidence": 1.0},
            "entities": [],
            "metadata": chat_metadata(token),
        },
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": form},
        latest_action_name=form,
    )


@pytest.fixture
def validate(run):
    """validate(validator, token, answers, **slots) -> Outcome, against the `run` services."""

    async def runner(action: Action, token: Optional[str], answers: Dict[str, Any], **slots):
        form = "renew_contract_form" if "renew" in action.name() else "upgrade_contract_form"
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, form_tracker(token, form, answers, slots), {})
        return Outcome(dispatcher.messages, [dict(e) for e in events])

    return runner


def contract_state(services, tag):
    """(end date, plan) of the contract of `tag`."""
    with Session(services.engine) as session:
        device = session.scalar(select(m.Device).filter_by(service_tag=tag))
        contract = session.scalar(select(m.ServiceContract).filter_by(device_id=device.id))
        return contract.ends_on, contract.plan_code


def changes_of(services, tag, kind):
    with Session(services.engine) as session:
        rows = session.scalars(select(m.ContractChange).filter_by(kind=kind))
        return [row.number for row in rows if tag in row.service_tags]


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def slot_values(outcome: Outcome, *names: str) -> tuple:
    return tuple(outcome.slot(name) for name in names)


# --- normalisation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "years"),
    [
        ("1 year", 1),
        ("a year", 1),
        ("two years", 2),
        ("3 years", 3),
        ("for 5 more years", 5),
        ("another 3 years", 3),
        ("3-year", 3),
        ("24 months", 2),
        ("36 mo", 3),
        ("24 mos", 2),
        ("1 yr", 1),
        ("2 yrs", 2),
        ("thirty-six months", 3),
        ("2", 2),
        ("three", 3),
        ("un año", 1),
        ("dos años", 2),
        ("3 años", 3),
        ("3 AÑOS", 3),
        ("tres anos", 3),
        ("36 meses", 3),
        ("12 meses", 1),
        ("veinticuatro meses", 2),
        ("0 years", 0),
        ("7 years", 7),
        (3, 3),
        ("18 months", None),
        ("1.5 years", None),
        ("half a year", None),
        ("forever", None),
        ("para siempre", None),
        ("", None),
        (None, None),
    ],
)
def test_durations_become_whole_years(said, years):
    assert normalize_duration(said) == years


@pytest.mark.parametrize(
    ("said", "plan"),
    [
        ("basic", "basic"),
        ("Básico", "basic"),
        ("basica", "basic"),
        ("ProSupport", "prosupport"),
        ("pro support", "prosupport"),
        ("prosupport_plus", "prosupport_plus"),
        ("ProSupport Plus", "prosupport_plus"),
        ("pro-support plus please", "prosupport_plus"),
        ("ProSupport+", "prosupport_plus"),
        ("platinum", None),
        ("", None),
        (None, None),
    ],
)
def test_plans_are_normalised(said, plan):
    assert normalize_plan(said) == plan


# --- listing ----------------------------------------------------------------------------


async def test_contracts_are_listed_ending_soonest_first_with_days_left(services, run):
    outcome = await run(ActionListServiceContracts(), services.token(BEN))
    assert outcome.responses == ["utter_contracts"]
    listed = outcome.values("utter_contracts")["contracts"].splitlines()
    tags = [line.split(" · ")[0].lstrip("• ") for line in listed]
    assert sorted(tags, key=lambda tag: contract_state(services, tag)[0]) == tags
    assert set(tags) == {"7XK2M93", "3FJ8K21", "9QW4T72", "H2L9P05"}  # C8N3V66 has none
    assert any("days left" in line for line in listed)
    assert any(line.startswith("• H2L9P05") and "days ago" in line for line in listed)


async def test_contracts_are_not_offered_in_mexico(services, run):
    outcome = await run(
        ActionListServiceContracts(),
        services.token(DIEGO, "Globex México"),
        slots={"language": "es"},
    )
    assert outcome.responses == ["utter_denied_country"]
    assert outcome.values("utter_denied_country")["country"] == "México"


# --- who may renew ----------------------------------------------------------------------


async def test_a_shopper_asking_to_renew_is_told_who_can_and_nothing_is_fetched(
    services, run, validate, audit_rows
):
    token = services.token(SARA)
    before = len(audit_rows(email=SARA))
    started = await validate(ValidateRenewContractForm(), token, {"service_tags": ["3FJ8K21"]})
    assert started.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in started.values("utter_denied_role")["admins"]
    # The form stops and forgets what it had.
    assert slot_values(started, *RENEW_SLOTS, "requested_slot") == (None, None, None, None)
    complete = {"service_tags": ["3FJ8K21"], "duration": 1, "plan": "prosupport"}
    quoted = await run(ActionQuoteContractRenewal(), token, slots=complete)
    assert quoted.responses == ["utter_denied_role"]
    assert quoted.slot("pending_change") == "<unset>"
    # Refused by the bot from the permission table: the services were never asked.
    assert len(audit_rows(email=SARA)) == before


@pytest.mark.parametrize(
    ("email", "account", "denial"),
    [
        (EVE, "Acme Corporation", "utter_denied_role"),
        (DIEGO, "Globex México", "utter_denied_country"),
    ],
)
async def test_renewal_is_refused_with_the_rule_that_failed(
    services, validate, email, account, denial
):
    outcome = await validate(
        ValidateRenewContractForm(), services.token(email, account), {}, language="es"
    )
    assert outcome.responses == [denial]
    assert outcome.slot("requested_slot") is None


# --- the renewal form's answers ---------------------------------------------------------


async def test_another_accounts_tag_is_not_found_and_audited(services, validate, audit_rows):
    token = services.token(LENA)
    before = len(audit_rows(action="probe:renew_service_contract", email=LENA))
    foreign = await validate(ValidateRenewContractForm(), token, {"service_tags": ["7XK2M93"]})
    missing = await validate(ValidateRenewContractForm(), token, {"service_tags": ["zz9-zz99"]})
    assert foreign.responses == missing.responses == ["utter_service_tag_not_found"]
    assert foreign.values("utter_service_tag_not_found")["tag"] == "7XK2M93"
    assert missing.values("utter_service_tag_not_found")["tag"] == "ZZ9ZZ99"
    assert foreign.slot("service_tags") is None and foreign.slot("requested_slot") == "service_tags"
    assert (
        len(audit_rows(expect=before + 1, action="probe:renew_service_contract", email=LENA))
        == before + 1
    )


async def test_a_tag_without_a_contract_cannot_be_renewed(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(), services.token(BEN), {"service_tags": ["c8n3v66"]}
    )
    assert outcome.responses == ["utter_no_contract"]
    assert outcome.values("utter_no_contract")["tag"] == "C8N3V66"
    assert outcome.slot("service_tags") is None


async def test_words_that_are_no_tag_are_explained(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(), services.token(BEN), {"service_tags": ["the big server"]}
    )
    assert outcome.responses == ["utter_invalid_service_tag"]
    assert outcome.slot("service_tags") is None


@pytest.mark.parametrize("said", ["0 years", "7 years", "forever", "18 months"])
async def test_impossible_durations_are_refused(services, validate, said):
    outcome = await validate(
        ValidateRenewContractForm(),
        services.token(BEN),
        {"duration": said},
        service_tags=["9QW4T72"],
    )
    assert outcome.responses == ["utter_invalid_duration"]
    assert outcome.values("utter_invalid_duration")["duration"] == said
    assert outcome.slot("duration") is None
    assert outcome.slot("requested_slot") == "duration"


async def test_an_unknown_plan_is_refused_with_the_plans_there_are(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(),
        services.token(BEN),
        {"plan": "platinum"},
        service_tags=["9QW4T72"],
        duration=2,
    )
    assert outcome.responses == ["utter_unknown_plan"]
    assert (outcome.slot("plan"), outcome.slot("requested_slot")) == (None, "plan")


async def test_answers_in_one_message_are_normalised_together(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(),
        services.token(DIEGO, "Acme Corporation"),
        {"service_tags": ["3fj-8k21", "9QW 4T72"], "duration": "3 años", "plan": "pro support"},
        language="es",
    )
    assert outcome.responses == []
    assert slot_values(outcome, *RENEW_SLOTS, "requested_slot") == (
        ["3FJ8K21", "9QW4T72"],
        3,
        "prosupport",
        None,
    )


async def test_only_what_is_missing_is_asked_for(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(), services.token(BEN), {"duration": "2 years"}
    )
    assert outcome.responses == []
    assert (outcome.slot("duration"), outcome.slot("requested_slot")) == (2, "service_tags")


async def test_a_side_question_sets_no_answer_so_the_form_can_step_aside(services, validate):
    """No answer in the message: Rasa then rejects the form and a rule answers the question."""
    outcome = await validate(
        ValidateRenewContractForm(), services.token(BEN), {}, service_tags=["9QW4T72"]
    )
    assert outcome.responses == []
    assert [e["name"] for e in outcome.events] == ["requested_slot"]
    assert outcome.slot("requested_slot") == "duration"


async def test_cancel_inside_the_form_forgets_its_answers(run):
    outcome = await run(ActionLeaveContractForm(), None, slots={"service_tags": ["9QW4T72"]})
    assert outcome.responses == ["utter_change_cancelled"]
    assert slot_values(outcome, *RENEW_SLOTS) == (None, None, None)


async def test_a_form_that_was_left_has_nothing_to_price(services, run):
    outcome = await run(
        ActionQuoteContractRenewal(), services.token(BEN), slots={"service_tags": ["9QW4T72"]}
    )
    assert outcome.responses == [] and outcome.events == []


# --- a renewal, start to end -------------------------------------------------------------


async def test_a_renewal_is_quoted_confirmed_and_done_once(services, run, validate):
    token = services.token(BEN)
    tag = "9QW4T72"
    end_before, plan = contract_state(services, tag)
    changes_before = changes_of(services, tag, "renewal")

    checked = await validate(
        ValidateRenewContractForm(),
        token,
        {"service_tags": ["9qw-4t72"], "duration": "2 years", "plan": "ProSupport Plus"},
    )
    assert checked.responses == []
    answers = {name: checked.slot(name) for name in RENEW_SLOTS}
    assert answers == {"service_tags": [tag], "duration": 2, "plan": "prosupport_plus"}

    quoted = await run(ActionQuoteContractRenewal(), token, slots=answers)
    assert quoted.responses == ["utter_renewal_quote", "utter_confirm_buttons"]
    quote = quoted.values("utter_renewal_quote")
    assert quote["years"] == "2 years" and quote["plan"] == "ProSupport Plus"
    assert quote["lines"].startswith(f"• {tag} · ") and quote["total"] == "$598.00"
    assert slot_values(quoted, *RENEW_SLOTS) == (None, None, None)
    pending = quoted.slot("pending_change")
    assert pending["kind"] == "renew_contracts"
    assert pending["params"] == {"service_tags": [tag], "plan": "prosupport_plus", "years": 2}
    assert contract_state(services, tag)[0] == end_before  # a quote changes nothing

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_renewal_done"]
    number = done.values("utter_renewal_done")["number"]
    assert number.startswith("CC-")
    new_end = add_years(max(end_before, dt.date.today()), 2)
    assert contract_state(services, tag) == (new_end, plan)
    assert changes_of(services, tag, "renewal") == [*changes_before, number]

    # A second "yes" finds nothing pending; a replayed confirmation reuses its key.
    again = await run(ActionConfirmChange(), token, slots={"last_change": pending})
    assert again.responses == ["utter_already_done"]
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.values("utter_renewal_done")["number"] == number
    assert contract_state(services, tag) == (new_end, plan)
    assert changes_of(services, tag, "renewal") == [*changes_before, number]


async def test_a_quote_in_spanish(services, run):
    outcome = await run(
        ActionQuoteContractRenewal(),
        services.token(DIEGO, "Acme Corporation"),
        slots={"language": "es", "service_tags": ["3FJ8K21"], "duration": 3, "plan": "basic"},
    )
    quote = outcome.values("utter_renewal_quote")
    assert (quote["years"], quote["plan"]) == ("3 años", "Básico")
    assert outcome.responses == ["utter_renewal_quote", "utter_confirm_buttons"]


# --- upgrades ---------------------------------------------------------------------------


async def test_a_device_without_a_contract_cannot_be_upgraded(services, validate):
    outcome = await validate(
        ValidateUpgradeContractForm(), services.token(ANA), {"service_tags": ["C8N3V66"]}
    )
    assert outcome.responses == ["utter_no_contract"]
    assert outcome.slot("service_tags") is None


async def test_an_expired_contract_is_renewed_not_upgraded(services, validate):
    assert contract_state(services, "H2L9P05")[0] < dt.date.today()
    outcome = await validate(
        ValidateUpgradeContractForm(), services.token(ANA), {"service_tags": ["H2L9P05"]}
    )
    assert outcome.responses == ["utter_contract_expired"]
    assert outcome.slot("service_tags") is None


async def test_a_contract_on_the_top_plan_cannot_go_higher(services, validate):
    assert contract_state(services, "7XK2M93")[1] == "prosupport_plus"
    outcome = await validate(
        ValidateUpgradeContractForm(), services.token(ANA), {"service_tags": ["7xk2m93"]}
    )
    assert outcome.responses == ["utter_already_top_plan"]
    assert outcome.slot("service_tags") is None


def live_below_top(services):
    """(caller, tag, plan) of a live contract not yet on the top plan (others change plans)."""
    callers = {"Acme Corporation": ANA, "Initech GmbH": LENA}
    with Session(services.engine) as session:
        for account, caller in callers.items():
            contracts = session.scalars(
                select(m.ServiceContract)
                .filter_by(account_id=services.account_id(account))
                .order_by(m.ServiceContract.id)
            )
            for contract in contracts:
                if contract.plan_code != "prosupport_plus" and contract.ends_on >= dt.date.today():
                    return caller, contract.device.service_tag, contract.plan_code
    pytest.fail("no live contract below the top plan in Acme or Initech")


async def test_the_same_plan_is_not_an_upgrade(services, validate):
    caller, tag, plan = live_below_top(services)
    outcome = await validate(
        ValidateUpgradeContractForm(),
        services.token(caller),
        {"service_tags": [tag], "plan": plan},
    )
    assert outcome.responses == ["utter_not_an_upgrade"]
    assert outcome.values("utter_not_an_upgrade")["tag"] == tag
    # The tag was fine; only the plan is asked again.
    assert slot_values(outcome, "service_tags", "plan", "requested_slot") == ([tag], None, "plan")


async def test_a_plan_is_checked_against_tags_given_later(services, validate):
    caller, tag, plan = live_below_top(services)
    outcome = await validate(
        ValidateUpgradeContractForm(), services.token(caller), {"service_tags": [tag]}, plan=plan
    )
    assert outcome.responses == ["utter_not_an_upgrade"]
    assert (outcome.slot("plan"), outcome.slot("requested_slot")) == (None, "plan")


async def test_the_entry_plan_is_never_an_upgrade(services, validate):
    outcome = await validate(ValidateUpgradeContractForm(), services.token(ANA), {"plan": "básico"})
    assert outcome.responses == ["utter_bottom_plan_is_no_upgrade"]
    assert outcome.values("utter_bottom_plan_is_no_upgrade")["plan"] == "Basic"
    assert (outcome.slot("plan"), outcome.slot("requested_slot")) == (None, "service_tags")


@pytest.fixture
def upgradeable(services):
    """(tag, next plan up) of a live Initech contract; its plan is put back afterwards.

    Upgrades use up the demo world (a plan only goes up), and other tests need some left.
    """
    ranks = {"basic": "prosupport", "prosupport": "prosupport_plus"}
    with Session(services.engine) as session:
        contracts = session.scalars(
            select(m.ServiceContract)
            .filter_by(account_id=services.account_id("Initech GmbH"))
            .order_by(m.ServiceContract.id)
        )
        found = next(
            (
                (c.number, c.device.service_tag, c.plan_code)
                for c in contracts
                if c.plan_code in ranks and c.ends_on >= dt.date.today()
            ),
            None,
        )
    if found is None:
        pytest.fail("no Initech contract can still be upgraded")
    number, tag, plan = found
    yield tag, ranks[plan]
    with Session(services.engine) as session, session.begin():
        session.scalar(select(m.ServiceContract).filter_by(number=number)).plan_code = plan


async def test_an_upgrade_is_quoted_confirmed_and_done_once(services, run, validate, upgradeable):
    token = services.token(LENA)
    tag, plan = upgradeable
    end_before, _ = contract_state(services, tag)
    changes_before = changes_of(services, tag, "upgrade")

    checked = await validate(
        ValidateUpgradeContractForm(), token, {"service_tags": [tag.lower()], "plan": plan}
    )
    assert checked.responses == []
    assert slot_values(checked, "service_tags", "plan", "requested_slot") == ([tag], plan, None)

    quoted = await run(
        ActionQuoteContractUpgrade(), token, slots={"service_tags": [tag], "plan": plan}
    )
    assert quoted.responses == ["utter_upgrade_quote", "utter_confirm_buttons"]
    assert "€" in quoted.values("utter_upgrade_quote")["total"]
    pending = quoted.slot("pending_change")
    assert pending["params"] == {"service_tags": [tag], "plan": plan}

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_upgrade_done"]
    assert contract_state(services, tag) == (end_before, plan)
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.responses == ["utter_upgrade_done"]
    assert len(changes_of(services, tag, "upgrade")) == len(changes_before) + 1


# --- the message that starts a form ------------------------------------------------------


async def test_a_renewal_that_names_tags_duration_and_plan_asks_nothing_more(services, run):
    text = "renew 9QW4T72 for 2 years on ProSupport"
    started = await start_form(
        ValidateRenewContractForm(),
        services.token(BEN),
        "renew_contract_form",
        text=text,
        intent="renew_service_contract",
        entities=[
            entity_in(text, "service_tag", "9QW4T72"),
            entity_in(text, "duration", "2 years"),
            entity_in(text, "plan", "ProSupport", "prosupport"),
        ],
    )
    assert started.responses == []
    assert slot_values(started, *RENEW_SLOTS, "requested_slot") == (
        ["9QW4T72"],
        2,
        "prosupport",
        None,
    )


async def test_a_renewal_in_spanish_with_two_tags(services, run):
    text = "renueva 3FJ8K21 y 9QW4T72 por 3 años con ProSupport Plus"
    started = await start_form(
        ValidateRenewContractForm(),
        services.token(DIEGO, "Acme Corporation"),
        "renew_contract_form",
        text=text,
        intent="renew_service_contract",
        entities=[
            entity_in(text, "service_tag", "3FJ8K21"),
            entity_in(text, "service_tag", "9QW4T72"),
            entity_in(text, "duration", "3 años"),
            entity_in(text, "plan", "ProSupport Plus", "prosupport_plus"),
        ],
        language="es",
    )
    assert started.responses == []
    assert slot_values(started, *RENEW_SLOTS, "requested_slot") == (
        ["3FJ8K21", "9QW4T72"],
        3,
        "prosupport_plus",
        None,
    )


async def test_a_renewal_that_names_only_the_tag_asks_for_the_rest(services, run):
    text = "renew the contract of 9QW4T72"
    started = await start_form(
        ValidateRenewContractForm(),
        services.token(BEN),
        "renew_contract_form",
        text=text,
        intent="renew_service_contract",
        entities=[entity_in(text, "service_tag", "9QW4T72")],
    )
    assert started.responses == []
    assert started.slot("service_tags") == ["9QW4T72"]
    assert started.slot("requested_slot") == "duration"


async def test_an_upgrade_that_names_tag_and_plan_asks_nothing_more(services, run):
    caller, tag, _ = live_below_top(services)
    text = f"upgrade {tag} to ProSupport Plus"
    started = await start_form(
        ValidateUpgradeContractForm(),
        services.token(caller),
        "upgrade_contract_form",
        text=text,
        intent="upgrade_service_contract",
        entities=[
            entity_in(text, "service_tag", tag),
            entity_in(text, "plan", "ProSupport Plus", "prosupport_plus"),
        ],
    )
    assert started.responses == []
    assert slot_values(started, "service_tags", "plan", "requested_slot") == (
        [tag],
        "prosupport_plus",
        None,
    )


# --- what the actions show as data beside the text ---------------------------------------


async def test_contracts_are_a_list_with_a_tone_for_how_soon_they_end(services, run):
    outcome = await run(ActionListServiceContracts(), services.token(BEN))
    shown = outcome.data("utter_contracts")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "list",
        "contracts",
        "Acme Corporation",
    )
    by_tag = {item["title"]: item for item in shown["items"]}
    assert set(by_tag) == {"7XK2M93", "3FJ8K21", "9QW4T72", "H2L9P05"}
    tones = {"active": "ok", "expiring": "warn", "expired": "bad"}
    for tag, item in by_tag.items():
        assert item["id"].startswith("SC-")
        assert item["status"]["tone"] == tones[item["status"]["value"]]
        ends_on, plan = contract_state(services, tag)
        values = field_values(item["fields"])
        assert values["ends_on"] == i18n.day(ends_on, "en")
        assert values["plan"] == i18n.plan(plan, "en")
    assert by_tag["H2L9P05"]["status"]["value"] == "expired"
    assert field_labels(by_tag["H2L9P05"]["fields"]) == {
        "plan": "Plan",
        "ends_on": "Ends",
        "days_left": "Time",
    }


async def test_a_renewal_quote_carries_a_confirmation_in_spanish(services, run):
    outcome = await run(
        ActionQuoteContractRenewal(),
        services.token(DIEGO, "Acme Corporation"),
        slots={"language": "es", "service_tags": ["3FJ8K21"], "duration": 3, "plan": "basic"},
    )
    shown = outcome.data("utter_renewal_quote")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "renew_contracts",
        "Básico",
    )
    quote = outcome.values("utter_renewal_quote")
    assert [(f["name"], f["label"]) for f in shown["fields"]] == [
        ("plan", "Plan"),
        ("duration", "Duración"),
        ("service_tag", "Etiqueta de servicio"),
        ("total", "Total"),
    ]
    values = field_values(shown["fields"])
    assert (values["plan"], values["duration"], values["total"]) == (
        "Básico",
        "3 años",
        quote["total"],
    )
    assert f"• {values['service_tag']}" == quote["lines"]
    assert values["service_tag"].startswith("3FJ8K21 · ")


async def test_an_upgrade_quote_carries_a_confirmation_per_device(services, run, upgradeable):
    tag, plan = upgradeable
    outcome = await run(
        ActionQuoteContractUpgrade(),
        services.token(LENA),
        slots={"service_tags": [tag], "plan": plan},
    )
    shown = outcome.data("utter_upgrade_quote")
    assert (shown["type"], shown["kind"]) == ("confirmation", "upgrade_contracts")
    lines = [f["value"] for f in shown["fields"] if f["name"] == "service_tag"]
    assert len(lines) == 1 and lines[0].startswith(f"{tag} · ")
    assert field_values(shown["fields"])["plan"] == i18n.plan(plan, "en") == shown["title"]


@pytest.mark.parametrize(
    "said, years",
    [(["next week", "a year"], 1), (["3 años", "el mes pasado"], 3), (["two years"], 2)],
)
async def test_of_several_durations_said_the_term_in_whole_years_is_the_renewals(
    services, validate, said, years
):
    """ "It runs out next week, renew it for a year": Rasa fills the slot with both."""
    outcome = await validate(
        ValidateRenewContractForm(),
        services.token(BEN),
        {"duration": said},
        service_tags=["9QW4T72"],
    )
    assert outcome.slot("duration") == years
    assert "utter_invalid_duration" not in outcome.responses


async def test_several_durations_none_in_years_are_refused_naming_one(services, validate):
    outcome = await validate(
        ValidateRenewContractForm(),
        services.token(BEN),
        {"duration": ["next week", "18 months"]},
        service_tags=["9QW4T72"],
    )
    assert outcome.responses == ["utter_invalid_duration"]
    assert outcome.values("utter_invalid_duration")["duration"] == "18 months"
