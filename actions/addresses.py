"""The address book: list the account's addresses, and add one through a form.

add_address
    `action_add_address` checks the permission first (nobody types an address
    only to be refused), clears what an earlier, abandoned form left, defaults
    the country to the account's and the kind to shipping ("billing" in the
    request makes it a billing address), then starts `add_address_form`. The
    form asks only for what is missing: label, street, city, postal code; the
    country is the default unless the person writes it after the city
    ("Toronto, Canada"). `validate_add_address_form` checks each answer (the
    postal code against the country's format, the country against the ISO
    list in English and Spanish). `action_propose_address` shows the summary.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Dict, List, Optional

from babel import Locale
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import i18n, view
from actions.base import AccountAction, ListAction, Turn, language_of
from actions.changes import propose, register
from actions.forms import plain_text
from bot.chat.replies import ConfirmationData, Item
from bot.services import schemas


def country_name(code: str, language: str) -> str:
    """The table's own names first ('the United States'), else the CLDR name."""
    named = i18n.country(code, language)
    if named != code:
        return named
    territories = Locale.parse(language if language in i18n.LANGUAGES else "en").territories
    return str(territories.get(code, code))


# --- countries and postal codes ---------------------------------------------------------

# CLDR lists some groupings with two-letter codes too; they are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"})
_COUNTRY_ALIASES = {
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "ee uu": "US",
    "eeuu": "US",
    "estados unidos de america": "US",
    "uk": "GB",
    "u k": "GB",
    "england": "GB",
    "great britain": "GB",
    "britain": "GB",
    "inglaterra": "GB",
    "gran bretana": "GB",
    "mejico": "MX",
    "deutschland": "DE",
}


@cache
def _countries() -> Dict[str, str]:
    """Every way of naming a country that is accepted: code, English and Spanish names."""
    known: Dict[str, str] = {}
    for language in i18n.LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                known[plain_text(code, ".")] = code
                known[plain_text(str(name), ".")] = code
                known.setdefault(plain_text(country_name(code, language), "."), code)
    known.update(_COUNTRY_ALIASES)
    return known


def country_code(text: str) -> Optional[str]:
    """'mexico', 'México', 'mx', 'Alemania' -> ISO code; None for no known country."""
    plain = plain_text(text, ".")
    if plain.startswith("the "):
        plain = plain[4:]
    return _countries().get(plain)


# Names that are also states ("Atlanta, Georgia"): after a city they mean the state.
_STATE_NAMES = frozenset({"georgia"})


def country_after_city(text: str) -> Optional[str]:
    """'Canada' in 'Toronto, Canada'; only written-out names, as 'Denver, CO' means a state."""
    plain = plain_text(text, ".")
    if len(plain) <= 3 and plain not in _COUNTRY_ALIASES or plain in _STATE_NAMES:
        return None
    return country_code(text)


POSTAL_FORMATS = {
    "US": r"[0-9]{5}(-[0-9]{4})?",
    "MX": r"[0-9]{5}",
    "DE": r"[0-9]{5}",
    "FR": r"[0-9]{5}",
    "ES": r"[0-9]{5}",
    "CA": r"[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]",
    "GB": r"[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}",
}
POSTAL_EXAMPLES = {
    "US": "78701",
    "MX": "06600",
    "DE": "10117",
    "FR": "75001",
    "ES": "28013",
    "CA": "K1A 0B1",
    "GB": "SW1A 1AA",
}
ANY_POSTAL_CODE = r"[A-Z0-9][A-Z0-9 \-]{1,19}"  # the services' own limit


def postal_code_for(raw: str, country: str) -> Optional[str]:
    """The postal code in its usual form ('k1a0b1' stays valid as 'K1A0B1'), or None."""
    code = " ".join(raw.upper().split())
    pattern = POSTAL_FORMATS.get(country, ANY_POSTAL_CODE)
    return code if re.fullmatch(pattern, code) else None


def address_line(turn: Turn, a: schemas.AddressOut) -> str:
    place = ", ".join(p for p in (a.line1, a.city, f"{a.region} {a.postal_code}".strip()) if p)
    return (
        f"• {a.label} ({i18n.address_kind(a.kind, turn.language)}): "
        f"{place}, {country_name(a.country, turn.language)}"
    )


def address_item(turn: Turn, a: schemas.AddressOut) -> Item:
    return Item(
        id=str(a.id),
        title=a.label,
        subtitle=i18n.address_kind(a.kind, turn.language),
        fields=view.fields(
            turn,
            street=a.line1,
            city=a.city,
            region=a.region,
            postal_code=a.postal_code,
            country=country_name(a.country, turn.language),
        ),
    )


class ActionShowAddresses(ListAction):
    capability = "show_addresses"
    response, empty_response, lines_field = "utter_addresses", "utter_no_addresses", "addresses"
    kind = "addresses"

    def name(self) -> str:
        return "action_show_addresses"

    async def fetch(self, turn: Turn) -> List[schemas.AddressOut]:
        return await turn.session.addresses()

    def line(self, turn: Turn, item: schemas.AddressOut) -> str:
        return address_line(turn, item)

    def item(self, turn: Turn, item: schemas.AddressOut) -> Item:
        return address_item(turn, item)


# --- add an address ---------------------------------------------------------------------

ADDRESS_FORM = "add_address_form"
ADDRESS_SLOTS = ("address_label", "address_line1", "address_city", "address_postal_code")
_BILLING_WORDS = re.compile(r"\b(billing|bill-to|bill to|invoice|facturacion|fiscal)\b")


def _cleared(names: Any) -> List[EventType]:
    return [SlotSet(name, None) for name in names]


class ActionAddAddress(AccountAction):
    """Check the permission, set the defaults, then start the address form."""

    capability = "add_address"

    def name(self) -> str:
        return "action_add_address"

    async def act(self, turn: Turn) -> None:
        text = plain_text(turn.tracker.latest_message.get("text") or "", ".")
        kind = "billing" if _BILLING_WORDS.search(text) else "shipping"
        country = turn.account.country
        turn.events.extend(_cleared(ADDRESS_SLOTS))
        turn.events.append(SlotSet("address_country", country))
        turn.events.append(SlotSet("address_kind", kind))
        turn.say(
            "utter_add_address_start",
            kind=i18n.address_kind(kind, turn.language),
            account=turn.account.name,
            country=country_name(country, turn.language),
        )
        turn.events.append(FollowupAction(ADDRESS_FORM))


def _too_long(dispatcher: CollectingDispatcher, maximum: int) -> Dict[str, Any]:
    dispatcher.utter_message(response="utter_invalid_address_text", max=maximum)
    return {}


class ValidateAddAddressForm(FormValidationAction):
    """Each answer of the address form, checked as the services will check it."""

    def name(self) -> str:
        return "validate_add_address_form"

    def validate_address_label(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        label = " ".join(str(value or "").split())
        if not 1 <= len(label) <= 80:
            return {"address_label": None, **_too_long(dispatcher, 80)}
        return {"address_label": label}

    def validate_address_line1(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        line = " ".join(str(value or "").split())
        if len(line) < 3 or not re.search(r"[^\W\d_]", line):
            dispatcher.utter_message(response="utter_invalid_address_line1")
            return {"address_line1": None}
        if len(line) > 200:
            return {"address_line1": None, **_too_long(dispatcher, 200)}
        return {"address_line1": line}

    def validate_address_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        city = " ".join(str(value or "").split())
        slots: Dict[str, Any] = {}
        # "Toronto, Canada": the country follows the city.
        head, _, tail = city.rpartition(",")
        if head and country_after_city(tail):
            city, slots["address_country"] = head.strip(), country_after_city(tail)
        if not 1 <= len(city) <= 100:
            return {"address_city": None, **_too_long(dispatcher, 100)}
        return {"address_city": city, **slots}

    def validate_address_postal_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        country = tracker.get_slot("address_country") or ""
        code = postal_code_for(str(value or ""), country)
        if code is None:
            dispatcher.utter_message(
                response="utter_invalid_postal_code",
                value=str(value or ""),
                country=country_name(country, language_of(tracker)),
                example=POSTAL_EXAMPLES.get(country, "12345"),
            )
            return {"address_postal_code": None}
        return {"address_postal_code": code}

    def validate_address_country(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        code = country_code(str(value or ""))
        if code is None:
            dispatcher.utter_message(response="utter_unknown_country", value=str(value or ""))
            return {"address_country": None}
        return {"address_country": code}


class ActionProposeAddress(AccountAction):
    """The address form is complete: show the address and ask to save it."""

    capability = "add_address"

    def name(self) -> str:
        return "action_propose_address"

    async def act(self, turn: Turn) -> None:
        params = {
            "label": turn.slot("address_label"),
            "kind": turn.slot("address_kind") or "shipping",
            "line1": turn.slot("address_line1"),
            "city": turn.slot("address_city"),
            "postal_code": turn.slot("address_postal_code"),
            "country": turn.slot("address_country") or turn.account.country,
        }
        turn.events.extend(_cleared((*ADDRESS_SLOTS, "address_country", "address_kind")))
        if not all(params.values()):
            turn.say("utter_invalid_input")
            return
        summary = ConfirmationData(
            "add_address",
            params["label"],
            view.fields(
                turn,
                label=params["label"],
                kind=i18n.address_kind(params["kind"], turn.language),
                street=params["line1"],
                city=params["city"],
                postal_code=params["postal_code"],
                country=country_name(params["country"], turn.language),
                account=turn.account.name,
            ),
        )
        turn.show(
            "utter_address_summary",
            summary,
            account=turn.account.name,
            label=params["label"],
            kind=i18n.address_kind(params["kind"], turn.language),
            line1=params["line1"],
            city=params["city"],
            postal_code=params["postal_code"],
            country=country_name(params["country"], turn.language),
        )
        propose(turn, "add_address", params)


@register("add_address", capability="add_address")
async def add_address(turn: Turn, params: Dict[str, Any], key: str) -> None:
    added = await turn.session.add_address(idempotency_key=key, **params)
    turn.say("utter_address_added", label=added.label, account=turn.account.name)
