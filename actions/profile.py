"""Profile and company details: view them, and change one detail through a form.

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

import re
import unicodedata
from typing import Any, Dict, Optional, Tuple

from babel import Locale
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions import i18n, view
from actions.base import AccountAction, Turn
from actions.changes import propose, register
from actions.forms import plain_text
from bot.chat.replies import CardData, ConfirmationData, Item

FIELDS = {target: i18n.field_codes(target) for target in ("profile", "company")}


def language_name(code: str, language: str) -> str:
    """'es' -> 'Spanish' / 'español'."""
    names = Locale.parse(language if language in i18n.LANGUAGES else "en").languages
    return str(names.get(code, code))


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
        words = re.findall(r"[^\W\d_]+", plain_text(text[end:], "."))
        return field, next((w for w in words if w in _LANGUAGE_WORDS and len(w) > 2), None)
    after = _VALUE_AFTER.search(text[end:])
    value = after.group("value").strip().rstrip(".!?").strip() if after else ""
    return field, value or None


def is_company_change(text: str, field: Optional[str]) -> bool:
    return field in ("legal_name", "tax_id") or bool(_COMPANY_WORDS.search(plain_text(text, ".")))


def clean_value(field: str, raw: str) -> Tuple[Optional[str], str]:
    """(the value as stored, "") or (None, the response explaining what is wrong)."""
    value = " ".join(str(raw).split())
    if field == "language":
        code = _LANGUAGE_WORDS.get(plain_text(value, "."))
        return (code, "") if code else (None, "utter_invalid_profile_language")
    if field == "phone":
        return (value, "") if _PHONE.match(value) else (None, "utter_invalid_phone")
    low, high = _LENGTHS.get(field, (1, 200))
    return (value, "") if low <= len(value) <= high else (None, "utter_invalid_detail_value")


class ActionShowProfile(AccountAction):
    capability = "show_profile"

    def name(self) -> str:
        return "action_show_profile"

    async def act(self, turn: Turn) -> None:
        profile = await turn.session.profile()
        values = {
            "name": profile.name,
            "email": profile.email,
            "phone": profile.phone or i18n.missing("not_set", turn.language),
            "job_title": profile.job_title or i18n.missing("not_set", turn.language),
            "language": language_name(profile.language, turn.language),
            "role": i18n.role(turn.me.role, turn.language),
            "account": turn.account.name,
        }
        card = Item(id=profile.email, title=profile.name, fields=view.fields(turn, **values))
        turn.show("utter_profile", CardData("profile", card), **values)


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
        if field is None or field not in FIELDS[target]:
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
        turn.events.extend(SlotSet(name, None) for name in DETAILS_SLOTS)
        if field not in FIELDS[target] or not value:
            turn.say("utter_invalid_input")
            return
        current = turn.account if target == "company" else await turn.session.profile()
        old = str(getattr(current, field) or "")

        def shown(v: str) -> str:
            if field == "language" and v:
                return language_name(v, turn.language)
            return v or i18n.missing("not_set", turn.language)

        name = i18n.field(target, field, turn.language)
        if old == value:
            turn.say("utter_detail_unchanged", value=shown(value))
            return
        summary = ConfirmationData(
            f"update_{target}",
            turn.account.name if target == "company" else turn.me.name,
            view.fields(turn, detail=name, current_value=shown(old), new_value=shown(value)),
        )
        turn.show(
            f"utter_update_{target}_summary",
            summary,
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
        "utter_profile_updated", field=i18n.field("profile", field, turn.language), value=value
    )


@register("update_company", capability="update_company")
async def update_company(turn: Turn, params: Dict[str, Any], key: str) -> None:
    field, value = params["field"], params["value"]
    await turn.session.update_company(idempotency_key=key, **{field: value})
    turn.say(
        "utter_company_updated",
        account=turn.account.name,
        field=i18n.field("company", field, turn.language),
        value=value,
    )
