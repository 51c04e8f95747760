"""Settings actions and forms against the real services: responses, slots, rows changed.

Form validators are run the way Rasa runs them: a tracker whose last events are the
candidate slot values. Changed profiles and company details are put back afterwards
(the demo world is shared by the whole test session).
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.account import ActionAccountInfo
from actions.addresses import (
    ActionAddAddress,
    ActionProposeAddress,
    ActionShowAddresses,
    ValidateAddAddressForm,
)
from actions.changes import ActionConfirmChange
from actions.payments import ActionListPaymentMethods, ActionListQuickCheckout
from actions.profile import (
    ActionProposeDetailsChange,
    ActionShowProfile,
    ActionUpdateDetails,
    ValidateUpdateDetailsForm,
    is_company_change,
    parse_detail,
)
from bot.services import models as m
from tests.actions.harness import field_labels, field_values

ACME, GLOBEX = "Acme Corporation", "Globex México"
ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
EVE = "eve.rep@vendor.example"
FORMS: Dict[str, Any] = {
    "slots": {},
    "forms": {
        "add_address_form": {
            "required_slots": [
                "address_label",
                "address_line1",
                "address_city",
                "address_postal_code",
                "address_country",
            ]
        },
        "update_details_form": {"required_slots": ["details_field", "details_value"]},
    },
}


class Validated:
    def __init__(self, messages: List[Dict[str, Any]], events: List[Dict[str, Any]]):
        self.messages = messages
        self.slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}

    @property
    def responses(self) -> List[Optional[str]]:
        return [message.get("response") for message in self.messages]


async def validate(
    action: FormValidationAction,
    candidates: Dict[str, Any],
    *,
    slots: Optional[Dict[str, Any]] = None,
    language: str = "en",
) -> Validated:
    """Run a form's validator on slot candidates, as Rasa's FormAction calls it."""
    tracker = Tracker(
        sender_id="test-form",
        slots={"language": language, **(slots or {}), **candidates},
        latest_message={"text": "", "intent": {}, "entities": []},
        events=[{"event": "slot", "name": k, "value": v} for k, v in candidates.items()],
        paused=False,
        followup_action=None,
        active_loop={"name": action.form_name()},
        latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, FORMS)
    return Validated(dispatcher.messages, [dict(e) for e in events])


def followups(outcome) -> List[str]:
    return [e["name"] for e in outcome.events if e.get("event") == "followup"]


def user_row(services, email: str) -> m.User:
    with Session(services.engine) as session:
        return session.scalar(select(m.User).filter_by(email=email))


def account_row(services, name: str) -> m.Account:
    with Session(services.engine) as session:
        return session.scalar(select(m.Account).filter_by(name=name))


@pytest.fixture
def restore_profile(services):
    """Put the named people's profiles back as they were."""
    saved: Dict[str, Dict[str, Any]] = {}

    def keep(email: str) -> None:
        user = user_row(services, email)
        saved[email] = {f: getattr(user, f) for f in ("name", "phone", "job_title", "language")}

    yield keep
    with Session(services.engine) as session:
        for email, fields in saved.items():
            user = session.scalar(select(m.User).filter_by(email=email))
            for field, value in fields.items():
                setattr(user, field, value)
        session.commit()


@pytest.fixture
def restore_company(services):
    """Put Acme's company details back as they were."""
    account = account_row(services, ACME)
    fields = {f: getattr(account, f) for f in ("legal_name", "phone", "tax_id")}
    yield fields
    with Session(services.engine) as session:
        row = session.scalar(select(m.Account).filter_by(name=ACME))
        for field, value in fields.items():
            setattr(row, field, value)
        session.commit()


# --- read-only views --------------------------------------------------------------------


async def test_profile_shows_the_persons_own_details(services, run):
    outcome = await run(ActionShowProfile(), services.token(BEN))
    assert outcome.responses == ["utter_profile"]
    values = outcome.values("utter_profile")
    assert values["email"] == BEN and values["name"] == user_row(services, BEN).name
    assert values["language"] == "English" and values["role"] == "buyer"


async def test_vendor_staff_have_no_profile_here(services, run):
    outcome = await run(ActionShowProfile(), services.token(EVE))
    assert outcome.responses == ["utter_denied_role"]


async def test_addresses_list_label_kind_and_place(services, run):
    outcome = await run(ActionShowAddresses(), services.token(BEN))
    assert outcome.responses == ["utter_addresses"]
    shown = outcome.values("utter_addresses")["addresses"]
    assert "Headquarters (shipping): 100 Congress Ave, Austin, TX 78701" in shown
    assert "Accounts payable (billing)" in shown


async def test_addresses_in_spanish(services, run):
    outcome = await run(
        ActionShowAddresses(), services.token(DIEGO, GLOBEX), slots={"language": "es"}
    )
    shown = outcome.values("utter_addresses")["addresses"]
    assert "Oficina central (envío)" in shown and "México" in shown


async def test_payment_types_are_masked(services, run):
    outcome = await run(ActionListPaymentMethods(), services.token(BEN))
    assert outcome.responses == ["utter_payment_methods"]
    methods = outcome.values("utter_payment_methods")["methods"]
    assert "Visa •••• 4242" in methods and "Mastercard •••• 5454" in methods


async def test_a_shopper_cannot_see_payment_types(services, run):
    outcome = await run(ActionListPaymentMethods(), services.token(SARA))
    assert outcome.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in outcome.values("utter_denied_role")["admins"]


async def test_quick_checkout_profiles(services, run):
    outcome = await run(ActionListQuickCheckout(), services.token(BEN))
    assert outcome.responses == ["utter_quick_checkout"]
    profiles = outcome.values("utter_quick_checkout")["profiles"]
    assert "Standard" in profiles and "Headquarters" in profiles and "4242" in profiles


# --- add an address ---------------------------------------------------------------------


async def test_adding_an_address_starts_the_form_with_the_accounts_country(services, run):
    outcome = await run(
        ActionAddAddress(), services.token(BEN), text="I need to add a billing address"
    )
    assert outcome.responses == ["utter_add_address_start"]
    assert followups(outcome) == ["add_address_form"]
    assert outcome.slot("address_country") == "US"
    assert outcome.slot("address_kind") == "billing"
    # Whatever an abandoned form left is cleared, so every answer is asked again.
    assert outcome.slot("address_label") is None and outcome.slot("address_postal_code") is None


async def test_a_spanish_request_defaults_to_mexico_and_shipping(services, run):
    outcome = await run(
        ActionAddAddress(),
        services.token(DIEGO, GLOBEX),
        text="quiero agregar una dirección",
        slots={"language": "es"},
    )
    assert outcome.slot("address_country") == "MX" and outcome.slot("address_kind") == "shipping"
    assert outcome.values("utter_add_address_start")["country"] == "México"


async def test_vendor_staff_get_no_address_form(services, run):
    outcome = await run(ActionAddAddress(), services.token(EVE), text="add an address")
    assert outcome.responses == ["utter_denied_role"]
    assert followups(outcome) == []


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("US", "78701", "78701"),
        ("US", "78701-1234", "78701-1234"),
        ("MX", "06600", "06600"),
        ("DE", "10117", "10117"),
        ("CA", "k1a 0b1", "K1A 0B1"),
        ("GB", "sw1a 1aa", "SW1A 1AA"),
        ("JP", "100-0001", "100-0001"),
    ],
)
async def test_good_postal_codes_are_accepted(country, typed, stored):
    validated = await validate(
        ValidateAddAddressForm(),
        {"address_postal_code": typed},
        slots={"address_country": country},
    )
    assert validated.responses == []
    assert validated.slots["address_postal_code"] == stored


@pytest.mark.parametrize(
    ("country", "typed", "named", "example"),
    [
        ("US", "ABC", "the United States", "78701"),
        ("US", "7870", "the United States", "78701"),
        ("DE", "1011", "Germany", "10117"),
        ("MX", "CP 06600", "Mexico", "06600"),
    ],
)
async def test_bad_postal_codes_are_refused_with_the_countrys_format(
    country, typed, named, example
):
    validated = await validate(
        ValidateAddAddressForm(),
        {"address_postal_code": typed},
        slots={"address_country": country},
    )
    assert validated.responses == ["utter_invalid_postal_code"]
    assert validated.messages[0]["country"] == named
    assert validated.messages[0]["example"] == example
    assert validated.slots["address_postal_code"] is None  # asked again


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("US", "US"),
        ("mx", "MX"),
        ("México", "MX"),
        ("mexico", "MX"),
        ("Alemania", "DE"),
        ("United States", "US"),
        ("Estados Unidos", "US"),
        ("EE. UU.", "US"),
        ("the United Kingdom", "GB"),
        ("Japan", "JP"),
    ],
)
async def test_countries_are_known_by_code_and_english_or_spanish_name(typed, code):
    validated = await validate(ValidateAddAddressForm(), {"address_country": typed})
    assert validated.responses == []
    assert validated.slots["address_country"] == code


@pytest.mark.parametrize("typed", ["Atlantis", "Narnia", "XY", "Europe"])
async def test_unknown_countries_are_refused(typed):
    validated = await validate(ValidateAddAddressForm(), {"address_country": typed})
    assert validated.responses == ["utter_unknown_country"]
    assert validated.messages[0]["value"] == typed
    assert validated.slots["address_country"] is None


@pytest.mark.parametrize(
    ("typed", "city", "country"),
    [
        ("Austin", "Austin", None),
        ("Toronto, Canada", "Toronto", "CA"),
        ("Monterrey, México", "Monterrey", "MX"),
        ("Los Angeles, CA", "Los Angeles, CA", None),  # a state, not Canada
        ("Atlanta, Georgia", "Atlanta, Georgia", None),
    ],
)
async def test_a_country_written_after_the_city_replaces_the_default(typed, city, country):
    validated = await validate(
        ValidateAddAddressForm(), {"address_city": typed}, slots={"address_country": "US"}
    )
    assert validated.slots["address_city"] == city
    assert validated.slots.get("address_country") == country


async def test_street_and_label_answers_are_checked():
    short = await validate(ValidateAddAddressForm(), {"address_line1": "x"})
    assert short.responses == ["utter_invalid_address_line1"]
    assert short.slots["address_line1"] is None
    street = await validate(ValidateAddAddressForm(), {"address_line1": "  200  Main St "})
    assert street.slots["address_line1"] == "200 Main St"
    long_label = await validate(ValidateAddAddressForm(), {"address_label": "L" * 81})
    assert long_label.responses == ["utter_invalid_address_text"]
    assert long_label.slots["address_label"] is None


async def test_a_complete_address_is_proposed_then_added_once(services, run):
    token = services.token(BEN)
    label = f"Warehouse {uuid.uuid4().hex[:6]}"
    form = {
        "address_label": label,
        "address_kind": "shipping",
        "address_line1": "200 Main St",
        "address_city": "Dallas",
        "address_postal_code": "75201",
        "address_country": "US",
    }
    proposed = await run(ActionProposeAddress(), token, slots=form)
    assert proposed.responses == ["utter_address_summary", "utter_confirm_buttons"]
    summary = proposed.values("utter_address_summary")
    assert (summary["label"], summary["city"], summary["country"]) == (
        label,
        "Dallas",
        "the United States",
    )
    for slot in form:
        assert proposed.slot(slot) is None  # the next address starts from scratch
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "add_address"

    def added() -> int:
        with Session(services.engine) as session:
            query = select(func.count()).select_from(m.Address)
            return int(
                session.scalar(query.filter_by(account_id=services.account_id(ACME), label=label))
            )

    assert added() == 0
    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_address_added"]
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.responses == ["utter_address_added"]
    assert added() == 1


# --- update own details or the company's ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "value", "company"),
    [
        ("change my phone to +1 512 555 0199", "phone", "+1 512 555 0199", False),
        ("change my phone number", "phone", None, False),
        ("new phone number: 555 0134", "phone", "555 0134", False),
        ("can you update my title to IT Director", "job_title", "IT Director", False),
        ("I moved teams, update my job title", "job_title", None, False),
        ("change my display name to Ben B.", "name", "Ben B", False),
        ("set my language to Spanish", "language", "spanish", False),
        ("update my profile", None, None, False),
        ("cambia mi teléfono a +52 55 5555 0123", "phone", "+52 55 5555 0123", False),
        ("actualiza mi puesto a Gerente de TI", "job_title", "Gerente de TI", False),
        ("pon mi idioma en español", "language", "espanol", False),
        ("ponme el idioma por defecto en inglés", "language", "ingles", False),
        ("change our company phone to +1 512 555 0111", "phone", "+1 512 555 0111", True),
        ("update the legal name to Acme Corp LLC", "legal_name", "Acme Corp LLC", True),
        ("cambia la razón social de la empresa", "legal_name", None, True),
        ("change my email to ben@acme.example", "email", "ben@acme.example", False),
    ],
)
def test_which_detail_and_value_a_request_names(text, field, value, company):
    assert parse_detail(text) == (field, value)
    assert is_company_change(text, field) is company


async def test_a_profile_request_starts_the_form_with_what_it_names(services, run):
    outcome = await run(
        ActionUpdateDetails(), services.token(BEN), text="change my phone to +1 512 555 0199"
    )
    assert outcome.responses == []
    assert followups(outcome) == ["update_details_form"]
    assert outcome.slot("details_target") == "profile"
    assert outcome.slot("details_field") == "phone"
    assert outcome.slot("details_value") == "+1 512 555 0199"


async def test_the_email_is_not_changed_here(services, run):
    outcome = await run(
        ActionUpdateDetails(), services.token(BEN), text="change my email to ben@acme.example"
    )
    assert outcome.responses == ["utter_email_not_changeable"]
    assert followups(outcome) == []


async def test_company_details_are_for_site_admins(services, run):
    outcome = await run(
        ActionUpdateDetails(), services.token(BEN), text="change our company phone number"
    )
    assert outcome.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in outcome.values("utter_denied_role")["admins"]
    assert followups(outcome) == []
    # The proposal checks again, whatever the slots say.
    proposed = await run(
        ActionProposeDetailsChange(),
        services.token(BEN),
        slots={"details_target": "company", "details_field": "phone", "details_value": "555 0101"},
    )
    assert proposed.responses == ["utter_denied_role"]
    assert proposed.slot("pending_change") == "<unset>"


@pytest.mark.parametrize(
    ("target", "typed", "field"),
    [
        ("profile", "phone", "phone"),
        ("profile", "teléfono", "phone"),
        ("profile", "job title", "job_title"),
        ("profile", "Idioma", "language"),
        ("company", "razón social", "legal_name"),
        ("company", "tax id", "tax_id"),
    ],
)
async def test_the_detail_answer_is_understood(target, typed, field):
    validated = await validate(
        ValidateUpdateDetailsForm(), {"details_field": typed}, slots={"details_target": target}
    )
    assert validated.responses == []
    assert validated.slots["details_field"] == field


@pytest.mark.parametrize(
    ("target", "typed", "response"),
    [
        ("profile", "my favourite colour", "utter_unknown_detail_profile"),
        ("profile", "legal name", "utter_unknown_detail_profile"),
        ("company", "job title", "utter_unknown_detail_company"),
        ("profile", "email", "utter_email_not_changeable"),
    ],
)
async def test_details_that_cannot_change_here_are_refused(target, typed, response):
    validated = await validate(
        ValidateUpdateDetailsForm(), {"details_field": typed}, slots={"details_target": target}
    )
    assert validated.responses == [response]
    assert validated.slots["details_field"] is None


@pytest.mark.parametrize(
    ("field", "typed", "stored", "response"),
    [
        ("phone", "+1 (512) 555-0199", "+1 (512) 555-0199", None),
        ("phone", "call me maybe", None, "utter_invalid_phone"),
        ("language", "Español", "es", None),
        ("language", "English", "en", None),
        ("language", "German", None, "utter_invalid_profile_language"),
        ("job_title", "  IT   Director ", "IT Director", None),
        ("job_title", "x" * 121, None, "utter_invalid_detail_value"),
        ("legal_name", "A", None, "utter_invalid_detail_value"),
    ],
)
async def test_new_values_are_checked(field, typed, stored, response):
    validated = await validate(
        ValidateUpdateDetailsForm(), {"details_value": typed}, slots={"details_field": field}
    )
    assert validated.responses == ([response] if response else [])
    assert validated.slots["details_value"] == stored


async def test_a_profile_change_is_shown_then_made_once(services, run, audit_rows, restore_profile):
    restore_profile(BEN)
    token = services.token(BEN)
    title = f"IT Director {uuid.uuid4().hex[:4]}"
    proposed = await run(
        ActionProposeDetailsChange(),
        token,
        slots={"details_target": "profile", "details_field": "job_title", "details_value": title},
    )
    assert proposed.responses == ["utter_update_profile_summary", "utter_confirm_buttons"]
    summary = proposed.values("utter_update_profile_summary")
    assert (summary["field"], summary["new"]) == ("job title", title)
    assert proposed.slot("details_field") is None and proposed.slot("details_value") is None
    pending = proposed.slot("pending_change")
    assert user_row(services, BEN).job_title != title  # nothing before "yes"

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_profile_updated"]
    assert user_row(services, BEN).job_title == title
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.responses == ["utter_profile_updated"]
    assert user_row(services, BEN).job_title == title
    audited = audit_rows(action="update_profile", outcome="ok")
    assert [e.detail.get("idempotency_key") for e in audited].count(pending["key"]) == 1


async def test_an_unchanged_value_is_not_proposed(services, run):
    outcome = await run(
        ActionProposeDetailsChange(),
        services.token(BEN),
        slots={"details_target": "profile", "details_field": "language", "details_value": "en"},
    )
    assert outcome.responses == ["utter_detail_unchanged"]
    assert outcome.slot("pending_change") == "<unset>"


async def test_changing_the_language_switches_the_reply_language(services, run, restore_profile):
    restore_profile(DIEGO)
    token = services.token(DIEGO, GLOBEX)
    proposed = await run(
        ActionProposeDetailsChange(),
        token,
        slots={
            "language": "es",
            "details_target": "profile",
            "details_field": "language",
            "details_value": "en",
        },
    )
    summary = proposed.values("utter_update_profile_summary")
    assert (summary["field"], summary["old"], summary["new"]) == ("idioma", "español", "inglés")
    done = await run(
        ActionConfirmChange(),
        token,
        slots={"language": "es", "pending_change": proposed.slot("pending_change")},
    )
    assert done.responses == ["utter_profile_updated"]
    assert done.slot("language") == "en"
    assert user_row(services, DIEGO).language == "en"


async def test_a_site_admin_changes_the_company_phone(services, run, restore_company):
    token = services.token(ANA)
    started = await run(
        ActionUpdateDetails(), token, text="change our company phone to +1 512 555 0111"
    )
    assert followups(started) == ["update_details_form"]
    slots = {
        name: started.slot(name) for name in ("details_target", "details_field", "details_value")
    }
    assert slots == {
        "details_target": "company",
        "details_field": "phone",
        "details_value": "+1 512 555 0111",
    }
    proposed = await run(ActionProposeDetailsChange(), token, slots=slots)
    assert proposed.responses == ["utter_update_company_summary", "utter_confirm_buttons"]
    summary = proposed.values("utter_update_company_summary")
    assert (summary["old"], summary["new"]) == (restore_company["phone"], "+1 512 555 0111")
    done = await run(
        ActionConfirmChange(), token, slots={"pending_change": proposed.slot("pending_change")}
    )
    assert done.responses == ["utter_company_updated"]
    assert account_row(services, ACME).phone == "+1 512 555 0111"


# --- what the actions show as data beside the text ---------------------------------------


async def test_the_profile_is_a_card_in_the_persons_language(services, run):
    outcome = await run(
        ActionShowProfile(), services.token(DIEGO, GLOBEX), slots={"language": "es"}
    )
    shown = outcome.data("utter_profile")
    assert (shown["type"], shown["kind"]) == ("card", "profile")
    item = shown["item"]
    assert (item["id"], item["title"]) == (DIEGO, user_row(services, DIEGO).name)
    values = field_values(item["fields"])
    text = outcome.values("utter_profile")
    assert values == {name: text[name] for name in values}
    assert (values["role"], values["account"]) == ("administrador del sitio", GLOBEX)
    labels = field_labels(item["fields"])
    assert (labels["job_title"], labels["language"], labels["phone"]) == (
        "Puesto",
        "Idioma",
        "Teléfono",
    )


async def test_account_info_is_a_card_with_the_other_accounts(services, run):
    outcome = await run(
        ActionAccountInfo(), services.token(DIEGO, GLOBEX), slots={"language": "es"}
    )
    assert outcome.responses == ["utter_account_info", "utter_other_accounts"]
    shown = outcome.data("utter_account_info")
    assert (shown["type"], shown["kind"]) == ("card", "account")
    item = shown["item"]
    assert item["title"] == GLOBEX
    values = field_values(item["fields"])
    assert item["id"] == values["customer_number"]
    assert (values["country"], values["role"], values["other_accounts"]) == (
        "México",
        "administrador del sitio",
        ACME,
    )
    assert field_labels(item["fields"])["customer_number"] == "Número de cliente"
    assert outcome.data("utter_other_accounts") == {}


async def test_addresses_are_a_list_in_the_persons_language(services, run):
    outcome = await run(
        ActionShowAddresses(), services.token(DIEGO, GLOBEX), slots={"language": "es"}
    )
    shown = outcome.data("utter_addresses")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "addresses", GLOBEX)
    office = next(item for item in shown["items"] if item["title"] == "Oficina central")
    assert office["subtitle"] == "envío"
    assert field_values(office["fields"]) == {
        "street": "Av. Paseo de la Reforma 250",
        "city": "Ciudad de México",
        "region": "CDMX",
        "postal_code": "06600",
        "country": "México",
    }
    assert field_labels(office["fields"])["postal_code"] == "Código postal"


async def test_an_address_summary_carries_what_will_be_added(services, run):
    form = {
        "address_label": f"Depot {uuid.uuid4().hex[:6]}",
        "address_kind": "billing",
        "address_line1": "1 Elm St",
        "address_city": "Austin",
        "address_postal_code": "78702",
        "address_country": "US",
    }
    outcome = await run(ActionProposeAddress(), services.token(BEN), slots=form)
    shown = outcome.data("utter_address_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "add_address",
        form["address_label"],
    )
    assert field_values(shown["fields"]) == {
        "label": form["address_label"],
        "kind": "billing",
        "street": "1 Elm St",
        "city": "Austin",
        "postal_code": "78702",
        "country": "the United States",
        "account": ACME,
    }


async def test_payment_types_are_a_list_of_masked_cards(services, run):
    outcome = await run(ActionListPaymentMethods(), services.token(BEN))
    shown = outcome.data("utter_payment_methods")
    assert (shown["type"], shown["kind"]) == ("list", "payment_methods")
    visa = next(item for item in shown["items"] if "4242" in item["title"])
    assert visa["title"] in outcome.values("utter_payment_methods")["methods"]
    assert field_values(visa["fields"]) == {"holder": "Acme Corporation"}
    assert "status" not in visa  # not expired


async def test_quick_checkout_profiles_are_a_list(services, run):
    outcome = await run(
        ActionListQuickCheckout(), services.token(DIEGO, GLOBEX), slots={"language": "es"}
    )
    shown = outcome.data("utter_quick_checkout")
    assert (shown["type"], shown["kind"]) == ("list", "quick_checkout")
    item = shown["items"][0]
    values = field_values(item["fields"])
    assert "•••• 1881" in values["payment_method"]
    assert values["shipping_method"] == "Terrestre (3 a 5 días hábiles)"
    assert field_labels(item["fields"]) == {
        "shipping_method": "Método de envío",
        "address": "Dirección",
        "payment_method": "Método de pago",
    }


async def test_a_details_change_summary_shows_the_old_and_the_new_value(services, run):
    outcome = await run(
        ActionProposeDetailsChange(),
        services.token(DIEGO, GLOBEX),
        slots={
            "language": "es",
            "details_target": "profile",
            "details_field": "language",
            "details_value": "en",
        },
    )
    shown = outcome.data("utter_update_profile_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "update_profile",
        user_row(services, DIEGO).name,
    )
    assert [(f["label"], f["value"]) for f in shown["fields"]] == [
        ("Dato", "idioma"),
        ("Valor actual", "español"),
        ("Valor nuevo", "inglés"),
    ]
