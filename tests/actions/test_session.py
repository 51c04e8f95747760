"""Session start, help and the public support contacts against the real services."""

from __future__ import annotations

import datetime as dt

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionHelp, ActionSessionStart, ActionSupportContact
from tests.actions.harness import DOMAIN, chat_metadata

ANA = "ana.admin@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
SAM = "sam.agent@vendor.example"


def help_items(outcome) -> list[str]:
    return outcome.values("utter_help")["items"].splitlines()


async def test_help_lists_only_what_the_person_may_do(services, run):
    admin = help_items(await run(ActionHelp(), services.token(ANA)))
    shopper = help_items(await run(ActionHelp(), services.token(SARA)))
    assert "• list, invite, change or deactivate users" in admin
    assert "• list, invite, change or deactivate users" not in shopper
    assert "• pay an invoice" not in shopper
    assert "• renew or upgrade service contracts" not in shopper
    assert "• recent orders and order status" in shopper
    assert set(shopper) < set(admin)


async def test_help_names_the_account_and_role_in_the_persons_language(services, run):
    outcome = await run(ActionHelp(), services.token(DIEGO), slots={"language": "es"})
    values = outcome.values("utter_help")
    assert values["account"] == "Globex México"
    assert values["role"] == "administrador del sitio"
    # Software subscriptions are not offered in Mexico, so help does not offer them.
    assert "• suscripciones de software" not in help_items(outcome)


async def test_help_follows_an_account_switch(services, run):
    acme = services.account_id("Acme Corporation")
    outcome = await run(ActionHelp(), services.token(DIEGO), slots={"active_account": acme})
    values = outcome.values("utter_help")
    assert values["account"] == "Acme Corporation"
    assert "• list, invite, change or deactivate users" not in help_items(outcome)  # a buyer there


async def test_help_for_staff_without_an_account_offers_only_public_things(services, run):
    outcome = await run(ActionHelp(), services.token(SAM))
    assert outcome.responses == ["utter_help"]
    assert outcome.values("utter_help")["account"] == ""
    assert help_items(outcome) == ["• regional support contacts"]


async def test_help_without_signing_in_gives_the_public_offer(run):
    outcome = await run(ActionHelp(), None)
    assert outcome.responses == ["utter_help_anonymous"]


async def test_help_with_an_expired_token_asks_to_sign_in_again(services, run):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    outcome = await run(ActionHelp(), services.token(ANA, now=past))
    assert outcome.responses == ["utter_session_expired"]


async def test_support_contacts_work_without_signing_in(run):
    outcome = await run(ActionSupportContact(), None)
    lines = outcome.values("utter_support_contacts")["contacts"].splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["• APJ", "• Americas", "• EMEA"]


async def test_support_contacts_of_one_region_in_any_case(run):
    region = {"entity": "region", "value": "emea", "start": 0, "end": 4}
    outcome = await run(ActionSupportContact(), None, entities=[region])
    contacts = outcome.values("utter_support_contacts")["contacts"]
    assert contacts.startswith("• EMEA: +44 20 7946 0321")
    assert "Americas" not in contacts


def session_tracker(token):
    return Tracker(
        sender_id="test-session",
        slots={"session_started_metadata": chat_metadata(token) or None},
        latest_message={},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name=None,
    )


async def test_a_session_starts_in_the_profile_language(services, run):
    events = await ActionSessionStart().run(
        CollectingDispatcher(), session_tracker(services.token(DIEGO)), DOMAIN
    )
    kinds = [(e["event"], e.get("name"), e.get("value")) for e in events]
    assert kinds == [
        ("session_started", None, None),
        ("slot", "language", "es"),
        ("slot", "page_account", services.account_id("Globex México")),
        ("action", "action_listen", None),
    ]


async def test_an_anonymous_session_keeps_the_default_language(run):
    events = await ActionSessionStart().run(CollectingDispatcher(), session_tracker(None), DOMAIN)
    assert [e["event"] for e in events] == ["session_started", "action"]
