"""Every reply exists in English and Spanish, and each language's text is really in it.

Each response of the real domain is rendered in both languages (the variation
Rasa would pick by the `language` slot, every {placeholder} filled with a sample
value localised through `actions/i18n.py`), and the text and button titles are
checked against a list of common words of the other language. The value names in
`actions/i18n.py` and the label files must name every value in both languages,
and the support contacts (whose hours the services store in English) must come
out in Spanish for a Spanish conversation.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import yaml
from rasa.shared.core.domain import Domain

from actions import i18n
from actions.session import ActionSupportContact
from bot.services import schemas
from bot.services.seed import SUPPORT_CONTACTS
from tests.actions.conftest import run  # noqa: F401 - the action harness's fixture
from tests.conftest import ROOT

LANGUAGES = i18n.LANGUAGES

# Common English words that have no place in Spanish text. Left out on purpose:
# words that are Spanish too ("a", "no", "me", "he", "has", "plan", "total", "plus").
ENGLISH_WORDS = frozenset(
    """
    the an you your yours you're you'll i i'm i'll i've we we'll our ours they they'll their them
    it its it's this that that's these those here there there's what which who whom whose how
    when where why is isn't are aren't was wasn't were be been being am do does doesn't did
    didn't don't have haven't had can can't cannot could couldn't will won't would should shall
    may might must not please already and or but with without for to of in on at by from into
    about as if then than so also only just still yet now again any some all every each
    more less new old one two three yes ok okay done sign signed signing welcome sorry thanks
    hello hi goodbye bye let let's say tell give show ask change find check
    account accounts user users invoice invoices order orders device devices warranty
    contract contracts report reports request requests support team address addresses phone
    email link links role status due paid unpaid overdue open closed active expired
    shipping billing ground business home day days year years month months week weeks left ago
    today none set unknown date dates name job title language
    mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Common Spanish words that have no place in English text. Left out on purpose: words
# that are English too ("a", "no", "me", "total", "plan", "final").
SPANISH_WORDS = frozenset(
    """
    el la los las lo un una unos unas de del al que qué quién cuál cuáles cómo dónde cuándo
    tu tus su sus mi mis nos te se le les para con por sin sobre entre desde hasta según
    es son está están estás estoy soy eres era fue ser estar hay haber
    y ni pero también más muy ya aún todavía ahora aquí allí así
    puedo puedes puede quieres quiere necesito necesitas tienes tiene tengo dime dame
    listo hola gracias adiós perdona sí
    ningún ninguno ninguna nada nadie todo todos todas otro otra
    cuenta cuentas factura facturas pedido pedidos equipo equipos soporte contrato contratos
    informe informes usuario usuarios correo teléfono dirección direcciones etiqueta
    solicitud servicio garantía tarjeta vence vencida pendiente pagada abierta cerrada
    día días año años mes meses semana hoy
    lunes martes miércoles jueves viernes sábado domingo
    """.split()  # noqa: SIM905 - a word list reads better as text
)
# Names that read the same in both languages (products, brands, the demo world, roles).
PROPER_NOUNS = (
    "Acme Corporation",
    "Globex México",
    "Initech GmbH",
    "Hannah Home",
    "ProSupport Plus",
    "ProSupport",
    "Premier",
    "Shopper",  # the portal's name of the role, in both languages
    "shopper",
)
# Whole texts allowed to be the same in both languages (a button "No").
SHARED_WORDS = frozenset({"no", "ok", "total"})

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


# --- sample values, localised as the actions localise them ------------------------------


def _lines(*lines: str) -> str:
    return "\n".join(f"• {line}" for line in lines)


def _contacts(language: str) -> str:
    return _lines(
        *(
            f"{i18n.region(region, language)}: {phone} · {email} · {i18n.hours(hours, language)}"
            for region, phone, email, hours in SUPPORT_CONTACTS
        )
    )


@cache
def _capability_labels() -> Dict[str, Dict[str, str]]:
    path = ROOT / "actions" / "capability_labels.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@cache
def _intent_labels() -> Dict[str, Dict[str, str]]:
    path = ROOT / "actions" / "intent_labels.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _day(language: str) -> str:
    return i18n.day(dt.date(2026, 12, 12), language)


def _money(language: str) -> str:
    return i18n.money(schemas.Money(cents=124_900, currency="USD"), language)


Sample = Callable[[str], str]
TEAM = [
    {"name": "Maya Chen", "email": "maya.chen@vendor.example"},
    {"name": "Eve Reyes", "email": "eve.rep@vendor.example"},
]
SAMPLES: Dict[str, Sample] = {
    "access_group": lambda lang: i18n.missing("none", lang),
    "account": lambda lang: "Globex México",
    "account_type": lambda lang: i18n.account_type("Business", lang),
    "accounts": lambda lang: "Acme Corporation, Initech GmbH",
    "addresses": lambda lang: _lines(
        f"Monterrey ({i18n.address_kind('shipping', lang)}): Av. Insurgentes Sur 1602, "
        f"Monterrey, NL 64000, {i18n.country('MX', lang)}"
    ),
    "admins": lambda lang: i18n.people(
        [{"name": "Ana Álvarez", "email": "ana@acme.example"}], lang
    ),
    "amount": _money,
    "card": lambda lang: "Visa •••• 4242 exp 08/28",
    "cards": lambda lang: i18n.missing("no_cards", lang),
    "cart_total": _money,
    "chars": lambda lang: "2,000",
    "city": lambda lang: "Monterrey",
    "closed": lambda lang: i18n.missing("not_yet", lang),
    "closed_count": lambda lang: "0",
    "contacts": _contacts,
    "contracts": lambda lang: _lines(
        f"7XK2M93 · Latitude 7440 · {i18n.plan('basic', lang)} · "
        f"{i18n.status('expiring', lang)} · {_day(lang)} ({i18n.days_left(25, lang)})"
    ),
    "count": lambda lang: "3",
    "country": lambda lang: i18n.country("GB", lang),
    "current_role": lambda lang: i18n.role("buyer", lang),
    "customer_number": lambda lang: "C-200871",
    "days": lambda lang: "30",
    "delivery": lambda lang: i18n.missing("not_available", lang),
    "description": lambda lang: "7XK2M93: 4 × LAT-7440",
    "devices": lambda lang: _lines(
        f"H2L9P05 · Latitude 5440 · {i18n.plan('basic', lang)} · "
        f"{i18n.status('expired', lang)} · {_day(lang)} ({i18n.days_left(-70, lang)})"
    ),
    "documents": lambda lang: _lines(f"Q3 · {_day(lang)}\n  https://127.0.0.1/d/1"),
    "due": _day,
    "duration": lambda lang: "18",
    "email": lambda lang: "diego.admin@globex.example",
    "end": _day,
    "ends": _day,
    "example": lambda lang: "SW1A 1AA",
    "field": lambda lang: i18n.field("profile", "job_title", lang),
    "filename": lambda lang: "INV-10000003.pdf",
    "id": lambda lang: "100000001",
    "invoices": lambda lang: _lines(
        f"INV-10000003 · {_money(lang)} · {_day(lang)} · {i18n.status('overdue', lang)}"
    ),
    "issued": _day,
    "items": lambda lang: _lines(*_capability_labels()[lang].values()),
    "job_title": lambda lang: i18n.missing("not_set", lang),
    "kind": lambda lang: i18n.address_kind("billing", lang),
    "label": lambda lang: "Monterrey",
    "language": lambda lang: {"en": "Spanish", "es": "español"}[lang],
    "line1": lambda lang: "Av. Insurgentes Sur 1602",
    "lines": lambda lang: _lines(f"7XK2M93 · {_day(lang)} → {_day(lang)} · {_money(lang)}"),
    "max": lambda lang: "80",
    "methods": lambda lang: _lines(f"Visa •••• 4242 exp 08/28 · {i18n.status('expired', lang)}"),
    "minutes": lambda lang: "15",
    "position": lambda lang: "2",
    "agent": lambda lang: "Sam",
    "name": lambda lang: "Diego Domínguez",
    "new": lambda lang: "+52 55 1234 5678",
    "number": lambda lang: "INV-10000003",
    "old": lambda lang: i18n.missing("not_set", lang),
    "open": lambda lang: i18n.missing("no_requests", lang),
    "open_count": lambda lang: "0",
    "opened": _day,
    "order": lambda lang: i18n.missing("none", lang),
    "orders": lambda lang: _lines(
        f"100000001 · {_day(lang)} · {i18n.status('shipped', lang)} · {_money(lang)}"
    ),
    "paid": lambda lang: i18n.missing("unknown_date", lang),
    "phone": lambda lang: i18n.missing("not_set", lang),
    "placed": _day,
    "plan": lambda lang: i18n.plan("basic", lang),
    "postal_code": lambda lang: "64000",
    "product": lambda lang: "Latitude 7440",
    "profiles": lambda lang: _lines(
        f"Standard: {i18n.shipping_method('Ground (3-5 business days)', lang)} · Monterrey, "
        "Av. Insurgentes Sur 1602 · Visa •••• 4242"
    ),
    "provider": lambda lang: "Okta",
    "quotes": lambda lang: _lines(
        f"Q-1 · OptiPlex · {_money(lang)} · {_day(lang)} · {i18n.status('open', lang)}"
    ),
    "report": lambda lang: i18n.report("spend", lang),
    "reports": lambda lang: _lines(*(i18n.report(t, lang) for t in ("spend", "order_history"))),
    "role": lambda lang: i18n.role("site_admin", lang),
    "rows": lambda lang: "42",
    "service_tag": lambda lang: i18n.missing("no_device", lang),
    "starts": _day,
    "status": lambda lang: i18n.status("in_progress", lang),
    "subscriptions": lambda lang: _lines(
        f"Acrobat Pro · 25 · {i18n.status('active', lang)} · {_day(lang)}"
    ),
    "summary": lambda lang: "BIOS",
    "tag": lambda lang: "7XK2M93",
    "team": lambda lang: i18n.people(TEAM, lang),
    "total": _money,
    "tracking": lambda lang: i18n.missing("not_available", lang),
    "url": lambda lang: "https://127.0.0.1/d/abc",
    "users": lambda lang: _lines(
        f"Diego Domínguez (diego@globex.example) · {i18n.role('shopper', lang)} · "
        f"{i18n.status('invited', lang)}"
    ),
    "value": lambda lang: "7XK",
    "what": lambda lang: i18n.thing("service request", lang),
    "words": lambda lang: "3",
    "years": lambda lang: "3",
}
# Where a placeholder holds words in one response and a bare number in another.
OVERRIDES: Dict[Tuple[str, str], Sample] = {
    ("utter_renewal_quote", "years"): lambda lang: i18n.years(3, lang),
    ("utter_warranty_active", "days"): lambda lang: i18n.days_left(25, lang),
    ("utter_warranty_expired", "days"): lambda lang: i18n.days_left(-70, lang),
}


# --- the domain's variations --------------------------------------------------------------


@cache
def responses() -> Dict[str, List[Dict[str, Any]]]:
    return Domain.load(str(ROOT / "domain")).responses


def language_of(variation: Dict[str, Any]) -> Optional[str]:
    for condition in variation.get("condition") or []:
        if condition.get("name") == "language":
            return str(condition.get("value"))
    return None


def other_conditions(variation: Dict[str, Any]) -> List[Tuple[str, Any]]:
    return sorted(
        (str(c.get("name")), c.get("value"))
        for c in variation.get("condition") or []
        if c.get("name") != "language"
    )


def pairs(name: str) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
    """(Spanish, English) variations that answer the same situation.

    A Spanish variation pairs with the English one under the same other conditions,
    else with the English default (the variation without any condition).
    """
    variations = responses()[name]
    english = [v for v in variations if language_of(v) in ("en", None)]
    default = next((v for v in variations if not v.get("condition")), None)
    found = []
    for spanish in (v for v in variations if language_of(v) == "es"):
        same = [v for v in english if other_conditions(v) == other_conditions(spanish)]
        counterpart = same[0] if same else default
        assert counterpart is not None, f"{name}: no English variation for {spanish}"
        found.append((spanish, counterpart))
    return found


def texts(variation: Dict[str, Any]) -> List[str]:
    """The text and every button title: all of it is shown."""
    shown = [str(variation.get("text") or "")]
    shown += [str(b.get("title") or "") for b in variation.get("buttons") or []]
    return [t for t in shown if t]


def render(name: str, text: str, language: str) -> str:
    def fill(found: re.Match) -> str:
        key = found.group(1)
        sample = OVERRIDES.get((name, key)) or SAMPLES.get(key)
        assert sample is not None, f"{name}: no sample value for {{{key}}} (add one to SAMPLES)"
        return sample(language)

    return _PLACEHOLDER.sub(fill, text)


def words(text: str) -> List[str]:
    """The words of a text, without names that read the same in both languages and codes."""
    for noun in PROPER_NOUNS:
        text = text.replace(noun, " ")
    return [w.lower() for w in _WORD.findall(text) if not w.isupper()]


def foreign(text: str, stop_words: frozenset) -> List[str]:
    return sorted({w for w in words(text) if w in stop_words})


RESPONSE_NAMES = sorted(responses())


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RESPONSE_NAMES)
def test_every_response_has_a_spanish_variation_and_an_english_default(name):
    variations = responses()[name]
    assert any(language_of(v) == "es" for v in variations), f"{name} has no Spanish variation"
    assert any(not v.get("condition") for v in variations), f"{name} has no English default"
    # Each Spanish variation is matched by an English one (and the other way round).
    spanish = [other_conditions(v) for v in variations if language_of(v) == "es"]
    for variation in variations:
        if language_of(variation) == "en":
            assert other_conditions(variation) in spanish, f"{name}: {variation} has no Spanish"
    for es, en in pairs(name):
        assert len(texts(es)) == len(texts(en)), f"{name}: the languages differ in buttons"


@pytest.mark.parametrize("name", RESPONSE_NAMES)
def test_spanish_text_is_spanish_and_english_text_is_english(name):
    for es, en in pairs(name):
        for spanish, english in zip(texts(es), texts(en), strict=True):
            if spanish == english:
                left = {w for w in words(_PLACEHOLDER.sub(" ", spanish)) if w not in SHARED_WORDS}
                assert not left, f"{name}: the Spanish text is the English one: {spanish!r}"
            shown_es = render(name, spanish, "es")
            shown_en = render(name, english, "en")
            assert not foreign(shown_es, ENGLISH_WORDS), (
                f"{name}: English words {foreign(shown_es, ENGLISH_WORDS)} in {shown_es!r}"
            )
            assert not foreign(shown_en, SPANISH_WORDS), (
                f"{name}: Spanish words {foreign(shown_en, SPANISH_WORDS)} in {shown_en!r}"
            )


def value_maps() -> Dict[str, Dict[str, Any]]:
    """Every map of `actions/i18n.py` keyed by language, by its name."""
    maps: Dict[str, Dict[str, Any]] = {
        f"_NAMES[{kind!r}]": by_language for kind, by_language in i18n._NAMES.items()
    }
    for attribute, value in vars(i18n).items():
        if isinstance(value, dict) and set(value) & set(LANGUAGES):
            maps[attribute] = value
    maps.pop("_NAMES", None)
    return maps


@pytest.mark.parametrize("kind", sorted(value_maps()))
def test_every_value_map_names_every_value_in_both_languages(kind):
    by_language = value_maps()[kind]
    assert set(by_language) == set(LANGUAGES), f"{kind}: languages {sorted(by_language)}"
    if isinstance(by_language["en"], dict):
        assert set(by_language["es"]) == set(by_language["en"]), f"{kind}: keys differ"
        values = {lang: " ".join(map(str, by_language[lang].values())) for lang in LANGUAGES}
    else:
        values = {lang: str(by_language[lang]) for lang in LANGUAGES}
    values = {lang: _PLACEHOLDER.sub(" ", text) for lang, text in values.items()}
    assert not foreign(values["es"], ENGLISH_WORDS), f"{kind}: English in {values['es']!r}"
    assert not foreign(values["en"], SPANISH_WORDS), f"{kind}: Spanish in {values['en']!r}"


@pytest.mark.parametrize("labels", [_capability_labels, _intent_labels], ids=lambda f: f.__name__)
def test_labels_name_everything_in_both_languages(labels):
    by_language = labels()
    assert set(by_language) == set(LANGUAGES)
    assert set(by_language["es"]) == set(by_language["en"])
    assert not foreign(" ".join(by_language["es"].values()), ENGLISH_WORDS)
    assert not foreign(" ".join(by_language["en"].values()), SPANISH_WORDS)


@pytest.mark.parametrize(
    ("stored", "language", "shown"),
    [
        ("Mon-Fri 8:00-18:00 CET", "en", "Mon-Fri 8:00-18:00 CET"),
        ("Mon-Fri 8:00-18:00 CET", "es", "de lunes a viernes, 8:00-18:00 CET"),
        ("Mon-Fri 7:00-19:00 CT; Sat 9:00-13:00 CT", "es",
         "de lunes a viernes, 7:00-19:00 CT; sábado, 9:00-13:00 CT"),
        ("Sat-Sun", "es", "de sábado a domingo"),
        ("24/7", "es", "24/7"),
    ],
)  # fmt: skip
def test_support_hours_name_the_days_in_the_language(stored, language, shown):
    assert i18n.hours(stored, language) == shown


async def test_support_contacts_in_spanish_have_no_english_days_or_regions(run):  # noqa: F811
    outcome = await run(ActionSupportContact(), None, slots={"language": "es"})
    contacts = outcome.values("utter_support_contacts")["contacts"]
    assert not re.search(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Americas)\b", contacts), contacts
    assert "• América: +1 800 456 3355" in contacts
    assert contacts.count("de lunes a viernes") == len(SUPPORT_CONTACTS)
    assert not foreign(contacts, ENGLISH_WORDS)


async def test_support_contacts_in_english_keep_the_stored_hours(run):  # noqa: F811
    outcome = await run(ActionSupportContact(), None)
    contacts = outcome.values("utter_support_contacts")["contacts"]
    assert "• Americas: +1 800 456 3355" in contacts
    assert "Mon-Fri 8:00-18:00 CET" in contacts
