"""Account settings: profile, company details, addresses, payment types, quick checkout.

Conversational design of the two multi-turn changes (both end in `propose()`, so
nothing changes before the person says "yes"; see `actions.changes`):

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

update_profile (own details) and update company details
    One intent, `update_profile`, one form, `update_details_form`, with two
    slots: `details_field` (which detail) and `details_value` (the new value).
    `action_update_details` reads the request once: words like "company",
    "our", "legal name", "tax id" (or "empresa", "razón social", "RFC") make it
    a company change (capability update_company, site admins only), anything
    else a change of the person's own profile (update_profile). It fills
    the field and the value when the request names them ("change my phone to
    +1 512 555 0199", "pon mi idioma en español"), checks the permission, and
    starts the form, which asks for whatever is still missing.
    `action_propose_details_change` shows the old and the new value.
    Profile fields: name, phone, job title, language (en/es; changing it also
    switches the reply language). Company fields: legal name, phone, tax ID.
    The e-mail address is the sign-in identity and is not changed here.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import cache
from typing import Any, Dict, List, Optional, Tuple

from babel import Locale
from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import i18n
from actions.base import AccountAction, Turn, language_of
from actions.changes import propose, register
from bot.services import schemas

# --- value names (the sentences are in domain/settings.yml) ------------------------------

_ADDRESS_KINDS = {
    "en": {"shipping": "shipping", "billing": "billing"},
    "es": {"shipping": "envío", "billing": "facturación"},
}
_PROFILE_FIELDS = {
    "en": {
        "name": "name",
        "phone": "phone number",
        "job_title": "job title",
        "language": "language",
    },
    "es": {"name": "nombre", "phone": "teléfono", "job_title": "puesto", "language": "idioma"},
}
# Spanish needs the article here: "cambiar la razón social de Acme".
_COMPANY_FIELDS = {
    "en": {"legal_name": "legal name", "phone": "phone number", "tax_id": "tax ID"},
    "es": {
        "legal_name": "la razón social",
        "phone": "el teléfono",
        "tax_id": "la identificación fiscal",
    },
}
FIELDS = {"profile": tuple(_PROFILE_FIELDS["en"]), "company": tuple(_COMPANY_FIELDS["en"])}


def _named(names: Dict[str, Dict[str, str]], value: str, language: str) -> str:
    return names.get(language, names["en"]).get(value, value)


def address_kind_name(kind: str, language: str) -> str:
    return _named(_ADDRESS_KINDS, kind, language)


def field_name(target: str, field: str, language: str) -> str:
    return _named(_COMPANY_FIELDS if target == "company" else _PROFILE_FIELDS, field, language)


def language_name(code: str, language: str) -> str:
    """'es' -> 'Spanish' / 'español'."""
    names = Locale.parse(language if language in i18n.LANGUAGES else "en").languages
    return str(names.get(code, code))


def country_name(code: str, language: str) -> str:
    """The table's own names first ('the United States'), else the CLDR name."""
    named = i18n.country(code, language)
    if named != code:
        return named
    territories = Locale.parse(language if language in i18n.LANGUAGES else "en").territories
    return str(territories.get(code, code))


def _plain(text: str) -> str:
    """Lower case without accents or dots: 'EE. UU.' -> 'ee uu', 'México' -> 'mexico'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.replace(".", " ").split())


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
                known[_plain(code)] = code
                known[_plain(str(name))] = code
                known.setdefault(_plain(country_name(code, language)), code)
    known.update(_COUNTRY_ALIASES)
    return known


def country_code(text: str) -> Optional[str]:
    """'mexico', 'México', 'mx', 'Alemania' -> ISO code; None for no known country."""
    plain = _plain(text)
    if plain.startswith("the "):
        plain = plain[4:]
    return _countries().get(plain)


# Names that are also states ("Atlanta, Georgia"): after a city they mean the state.
_STATE_NAMES = frozenset({"georgia"})


def country_after_city(text: str) -> Optional[str]:
    """'Canada' in 'Toronto, Canada'; only written-out names, as 'Denver, CO' means a state."""
    plain = _plain(text)
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


# --- which detail, and its new value ----------------------------------------------------

# Keyword -> field; the earliest keyword in a message wins, the longer one on a tie.
_FIELD_WORDS = {
    "legal name": "legal_name",
    "company name": "legal_name",
    "razon social": "legal_name",
    "nombre legal": "legal_name",
    "nombre de la empresa": "legal_name",
    "tax id": "tax_id",
    "tax number": "tax_id",
    "vat": "tax_id",
    "rfc": "tax_id",
    "nif": "tax_id",
    "cif": "tax_id",
    "identificacion fiscal": "tax_id",
    "job title": "job_title",
    "title": "job_title",
    "position": "job_title",
    "puesto": "job_title",
    "cargo": "job_title",
    "language": "language",
    "idioma": "language",
    "phone": "phone",
    "telephone": "phone",
    "cellphone": "phone",
    "mobile": "phone",
    "cell": "phone",
    "telefono": "phone",
    "celular": "phone",
    "movil": "phone",
    "name": "name",
    "nombre": "name",
    "apellido": "name",
    "email": "email",
    "e-mail": "email",
    "correo": "email",
}
_FIELD_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(w) for w in sorted(_FIELD_WORDS, key=len, reverse=True)) + r")\b"
)
_COMPANY_WORDS = re.compile(
    r"\b(company|company's|our|corporate|organization|empresa|compania|"
    r"nuestro|nuestra|corporativo|corporativa)\b"
)
# What separates a detail from its new value: "phone to ...", "nombre a ...", "idioma: ...".
_VALUE_AFTER = re.compile(r"(?:\s(?:to|as|a|por|en|como)\s|:\s*)(?P<value>.+)$", re.IGNORECASE)
_LANGUAGE_WORDS = {
    "english": "en",
    "ingles": "en",
    "en": "en",
    "spanish": "es",
    "espanol": "es",
    "castellano": "es",
    "es": "es",
}
_PHONE = re.compile(r"^[0-9+()\- .]{5,40}$")
_LENGTHS = {"name": (1, 120), "job_title": (1, 120), "legal_name": (2, 200), "tax_id": (2, 40)}


def _fold(text: str) -> str:
    """Lower case without accents, character for character, so positions stay valid."""
    folded = []
    for char in text:
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        ).lower()
        folded.append(base if len(base) == 1 else char)
    return "".join(folded)


def find_field(text: str) -> Tuple[Optional[str], int]:
    """(field, where its keyword ends in `text`) for the first detail named, or (None, 0)."""
    found = _FIELD_PATTERN.search(_fold(text))
    if not found:
        return None, 0
    return _FIELD_WORDS[found.group(1)], found.end()


def parse_detail(text: str) -> Tuple[Optional[str], Optional[str]]:
    """('phone', '+1 512 555 0199') from 'change my phone to +1 512 555 0199'."""
    field, end = find_field(text)
    if field is None:
        return None, None
    if field == "language":
        words = re.findall(r"[^\W\d_]+", _plain(text[end:]))
        return field, next((w for w in words if w in _LANGUAGE_WORDS and len(w) > 2), None)
    after = _VALUE_AFTER.search(text[end:])
    value = after.group("value").strip().rstrip(".!?").strip() if after else ""
    return field, value or None


def is_company_change(text: str, field: Optional[str]) -> bool:
    return field in ("legal_name", "tax_id") or bool(_COMPANY_WORDS.search(_plain(text)))


def clean_value(field: str, raw: str) -> Tuple[Optional[str], str]:
    """(the value as stored, "") or (None, the response explaining what is wrong)."""
    value = " ".join(str(raw).split())
    if field == "language":
        code = _LANGUAGE_WORDS.get(_plain(value))
        return (code, "") if code else (None, "utter_invalid_profile_language")
    if field == "phone":
        return (value, "") if _PHONE.match(value) else (None, "utter_invalid_phone")
    low, high = _LENGTHS.get(field, (1, 200))
    return (value, "") if low <= len(value) <= high else (None, "utter_invalid_detail_value")


# --- read-only views --------------------------------------------------------------------


def is_expired(card: schemas.PaymentMethodOut, today: dt.date) -> bool:
    """A card is good through the last day of its expiry month."""
    if not (card.exp_year and card.exp_month):
        return False
    return (card.exp_year, card.exp_month) < (today.year, today.month)


def address_line(turn: Turn, a: schemas.AddressOut) -> str:
    place = ", ".join(p for p in (a.line1, a.city, f"{a.region} {a.postal_code}".strip()) if p)
    return (
        f"• {a.label} ({address_kind_name(a.kind, turn.language)}): "
        f"{place}, {country_name(a.country, turn.language)}"
    )


class ActionShowProfile(AccountAction):
    capability = "show_profile"

    def name(self) -> str:
        return "action_show_profile"

    async def act(self, turn: Turn) -> None:
        profile = await turn.session.profile()
        turn.say(
            "utter_profile",
            name=profile.name,
            email=profile.email,
            phone=profile.phone or "—",
            job_title=profile.job_title or "—",
            language=language_name(profile.language, turn.language),
            role=i18n.role(turn.me.role, turn.language),
            account=turn.account.name,
        )


class ActionShowAddresses(AccountAction):
    capability = "show_addresses"

    def name(self) -> str:
        return "action_show_addresses"

    async def act(self, turn: Turn) -> None:
        addresses = await turn.session.addresses()
        if not addresses:
            turn.say("utter_no_addresses", account=turn.account.name)
            return
        turn.say(
            "utter_addresses",
            account=turn.account.name,
            count=len(addresses),
            addresses="\n".join(address_line(turn, a) for a in addresses),
        )


class ActionListPaymentMethods(AccountAction):
    capability = "list_payment_methods"

    def name(self) -> str:
        return "action_list_payment_methods"

    async def act(self, turn: Turn) -> None:
        cards = await turn.session.payment_methods()
        if not cards:
            turn.say("utter_no_payment_methods", account=turn.account.name)
            return
        today = dt.date.today()
        lines = [
            f"• {c.masked} · {c.holder}"
            + (f" · {i18n.status('expired', turn.language)}" if is_expired(c, today) else "")
            for c in cards
        ]
        turn.say(
            "utter_payment_methods",
            account=turn.account.name,
            count=len(cards),
            methods="\n".join(lines),
        )


class ActionListQuickCheckout(AccountAction):
    capability = "list_quick_checkout"

    def name(self) -> str:
        return "action_list_quick_checkout"

    async def act(self, turn: Turn) -> None:
        profiles = await turn.session.quick_checkout()
        if not profiles:
            turn.say("utter_no_quick_checkout", account=turn.account.name)
            return
        lines = [
            f"• {q.name}: {q.shipping_method} · {q.address.label}, {q.address.line1}, "
            f"{q.address.city} · {q.payment_method.masked}"
            for q in profiles
        ]
        turn.say(
            "utter_quick_checkout",
            account=turn.account.name,
            count=len(profiles),
            profiles="\n".join(lines),
        )


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
        text = _plain(turn.tracker.latest_message.get("text") or "")
        kind = "billing" if _BILLING_WORDS.search(text) else "shipping"
        country = turn.account.country
        turn.events.extend(_cleared(ADDRESS_SLOTS))
        turn.events.append(SlotSet("address_country", country))
        turn.events.append(SlotSet("address_kind", kind))
        turn.say(
            "utter_add_address_start",
            kind=address_kind_name(kind, turn.language),
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
        turn.say(
            "utter_address_summary",
            account=turn.account.name,
            label=params["label"],
            kind=address_kind_name(params["kind"], turn.language),
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


# --- update own details or the company's ------------------------------------------------

DETAILS_FORM = "update_details_form"
DETAILS_SLOTS = ("details_target", "details_field", "details_value")


def _request(tracker: Tracker) -> Tuple[str, Optional[str], Optional[str]]:
    """(target, field, value) named in the latest message."""
    text = tracker.latest_message.get("text") or ""
    field, value = parse_detail(text)
    target = "company" if is_company_change(text, field) else "profile"
    return target, field, value


class ActionUpdateDetails(AccountAction):
    """Read which detail (own or the company's) and its value, then start the form."""

    def name(self) -> str:
        return "action_update_details"

    def capability_for(self, tracker: Tracker) -> str:
        target, _, _ = _request(tracker)
        return "update_company" if target == "company" else "update_profile"

    async def act(self, turn: Turn) -> None:
        target, field, value = _request(turn.tracker)
        if field == "email":
            turn.say("utter_email_not_changeable")
            return
        if field not in FIELDS[target]:
            field, value = None, None
        turn.events.extend(
            [
                SlotSet("details_target", target),
                SlotSet("details_field", field),
                SlotSet("details_value", value),
                FollowupAction(DETAILS_FORM),
            ]
        )


class ValidateUpdateDetailsForm(FormValidationAction):
    """Which detail (one the target has) and a new value of the right shape."""

    def name(self) -> str:
        return "validate_update_details_form"

    def validate_details_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        target = tracker.get_slot("details_target") or "profile"
        text = str(value or "")
        field, new_value = (text, None) if text in FIELDS[target] else parse_detail(text)
        if field == "email":
            dispatcher.utter_message(response="utter_email_not_changeable")
            return {"details_field": None}
        if field not in FIELDS[target]:
            dispatcher.utter_message(response=f"utter_unknown_detail_{target}")
            return {"details_field": None}
        slots: Dict[str, Any] = {"details_field": field}
        if new_value and not tracker.get_slot("details_value"):
            cleaned, _ = clean_value(field, new_value)
            slots["details_value"] = cleaned
        return slots

    def validate_details_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> Dict[str, Any]:
        field = tracker.get_slot("details_field")
        if not field:
            return {"details_value": None}  # asked again once the field is known
        cleaned, problem = clean_value(field, str(value or ""))
        if cleaned is None:
            dispatcher.utter_message(response=problem)
        return {"details_value": cleaned}


class ActionProposeDetailsChange(AccountAction):
    """The details form is complete: show the old and the new value, ask to change it."""

    def name(self) -> str:
        return "action_propose_details_change"

    def capability_for(self, tracker: Tracker) -> str:
        target = tracker.get_slot("details_target")
        return "update_company" if target == "company" else "update_profile"

    async def act(self, turn: Turn) -> None:
        target = turn.slot("details_target") or "profile"
        field, value = turn.slot("details_field"), turn.slot("details_value")
        turn.events.extend(_cleared(DETAILS_SLOTS))
        if field not in FIELDS[target] or not value:
            turn.say("utter_invalid_input")
            return
        current = turn.account if target == "company" else await turn.session.profile()
        old = str(getattr(current, field) or "")

        def shown(v: str) -> str:
            return language_name(v, turn.language) if field == "language" and v else v or "—"

        name = field_name(target, field, turn.language)
        if old == value:
            turn.say("utter_detail_unchanged", value=shown(value))
            return
        turn.say(
            f"utter_update_{target}_summary",
            account=turn.account.name,
            field=name,
            old=shown(old),
            new=shown(value),
        )
        propose(turn, f"update_{target}", {"field": field, "value": value})


@register("update_profile", capability="update_profile")
async def update_profile(turn: Turn, params: Dict[str, Any], key: str) -> None:
    field, value = params["field"], params["value"]
    await turn.session.update_profile(idempotency_key=key, **{field: value})
    if field == "language":
        turn.events.append(SlotSet("language", value))
        value = language_name(value, turn.language)
    turn.say(
        "utter_profile_updated", field=field_name("profile", field, turn.language), value=value
    )


@register("update_company", capability="update_company")
async def update_company(turn: Turn, params: Dict[str, Any], key: str) -> None:
    field, value = params["field"], params["value"]
    await turn.session.update_company(idempotency_key=key, **{field: value})
    turn.say(
        "utter_company_updated",
        account=turn.account.name,
        field=field_name("company", field, turn.language),
        value=value,
    )
