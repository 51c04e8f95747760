"""Names of values (roles, countries, statuses, plans, reports, fields) and number/date
formats per language.

Sentences live in the domain's responses; this module only localises the values
placed into them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Callable, Dict, List, Optional, Tuple

from bot import language as lang
from bot.services import schemas

LANGUAGES = ("en", "es")

_NAMES: Dict[str, Dict[str, Dict[str, str]]] = {
    "role": {
        "en": {
            "site_admin": "site admin",
            "buyer": "buyer",
            "shopper": "shopper",
            "account_team": "account team (read-only)",
            "support_agent": "support agent",
        },
        "es": {
            "site_admin": "administrador del sitio",
            "buyer": "comprador",
            "shopper": "shopper",
            "account_team": "equipo de cuenta (solo lectura)",
            "support_agent": "agente de soporte",
        },
    },
    "country": {
        "en": {
            "US": "the United States",
            "MX": "Mexico",
            "DE": "Germany",
            "CA": "Canada",
            "GB": "the United Kingdom",
            "FR": "France",
            "ES": "Spain",
        },
        "es": {
            "US": "Estados Unidos",
            "MX": "México",
            "DE": "Alemania",
            "CA": "Canadá",
            "GB": "el Reino Unido",
            "FR": "Francia",
            "ES": "España",
        },
    },
    "status": {
        "en": {
            "paid": "paid",
            "unpaid": "unpaid",
            "overdue": "overdue",
            "all": "",
            "processing": "processing",
            "shipped": "shipped",
            "delivered": "delivered",
            "cancelled": "cancelled",
            "active": "active",
            "expired": "expired",
            "expiring": "expiring soon",
            "open": "open",
            "in_progress": "in progress",
            "closed": "closed",
            "invited": "invited",
            "deactivated": "deactivated",
        },
        "es": {
            "paid": "pagada",
            "unpaid": "pendiente",
            "overdue": "vencida",
            "all": "",
            "processing": "en proceso",
            "shipped": "enviado",
            "delivered": "entregado",
            "cancelled": "cancelado",
            "active": "activa",
            "expired": "vencida",
            "expiring": "por vencer",
            "open": "abierta",
            "in_progress": "en curso",
            "closed": "cerrada",
            "invited": "invitado",
            "deactivated": "desactivado",
        },
    },
    "thing": {
        "en": {
            "order": "order",
            "invoice": "invoice",
            "service tag": "service tag",
            "service request": "service request",
            "contract": "contract",
            "document": "document",
            "report": "report",
            "address": "address",
            "user": "user",
            "payment method": "payment method",
            "account": "account",
        },
        "es": {
            "order": "el pedido",
            "invoice": "la factura",
            "service tag": "la etiqueta de servicio",
            "service request": "la solicitud de servicio",
            "contract": "el contrato",
            "document": "el documento",
            "report": "el informe",
            "address": "la dirección",
            "user": "el usuario",
            "payment method": "el método de pago",
            "account": "la cuenta",
        },
    },
    "plan": {
        "en": {"basic": "Basic", "prosupport": "ProSupport", "prosupport_plus": "ProSupport Plus"},
        "es": {"basic": "Básico", "prosupport": "ProSupport", "prosupport_plus": "ProSupport Plus"},
    },
    "report": {
        "en": {
            "purchase_history": "Purchase history",
            "spend": "Spend by month",
            "order_history": "Order history",
        },
        "es": {
            "purchase_history": "Historial de compras",
            "spend": "Gasto por mes",
            "order_history": "Historial de pedidos",
        },
    },
    "address_kind": {
        "en": {"shipping": "shipping", "billing": "billing"},
        "es": {"shipping": "envío", "billing": "facturación"},
    },
    "profile_field": {
        "en": {
            "name": "name",
            "phone": "phone number",
            "job_title": "job title",
            "language": "language",
        },
        "es": {"name": "nombre", "phone": "teléfono", "job_title": "puesto", "language": "idioma"},
    },
    # Spanish needs the article here: "cambiar la razón social de Acme".
    "company_field": {
        "en": {"legal_name": "legal name", "phone": "phone number", "tax_id": "tax ID"},
        "es": {
            "legal_name": "la razón social",
            "phone": "el teléfono",
            "tax_id": "la identificación fiscal",
        },
    },
    # Account types are the portal's tier names; Premier is a brand and stays as it is.
    "account_type": {
        "en": {"Premier": "Premier", "Business": "Business", "Home": "Home"},
        "es": {"Premier": "Premier", "Business": "Empresa", "Home": "Hogar"},
    },
    "region": {
        "en": {"Americas": "Americas", "EMEA": "EMEA", "APJ": "APJ"},
        "es": {"Americas": "América", "EMEA": "EMEA", "APJ": "APJ"},
    },
    "shipping_method": {
        "en": {"Ground (3-5 business days)": "Ground (3-5 business days)"},
        "es": {"Ground (3-5 business days)": "Terrestre (3 a 5 días hábiles)"},
    },
    # A yes/no value as a table shows it (the portal's tables).
    "answer": {
        "en": {"yes": "yes", "no": "no"},
        "es": {"yes": "sí", "no": "no"},
    },
    # What a reply says where a value is missing (instead of a bare dash).
    "missing": {
        "en": {
            "none": "none",
            "no_cards": "none",
            "no_requests": "none",
            "not_set": "not set",
            "not_yet": "not yet",
            "not_available": "not available yet",
            "no_device": "no device",
            "unknown_date": "an unrecorded date",
        },
        "es": {
            "none": "ninguno",
            "no_cards": "ninguna",
            "no_requests": "ninguna",
            "not_set": "sin indicar",
            "not_yet": "todavía no",
            "not_available": "todavía no disponible",
            "no_device": "sin equipo",
            "unknown_date": "una fecha sin registrar",
        },
    },
    # Opening days as the services store them ("Mon-Fri 8:00-18:00 CET").
    "weekday": {
        "en": {d: d for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")},
        "es": {
            "Mon": "lunes",
            "Tue": "martes",
            "Wed": "miércoles",
            "Thu": "jueves",
            "Fri": "viernes",
            "Sat": "sábado",
            "Sun": "domingo",
        },
    },
    "day_span": {
        "en": {"range": "{first}-{last}", "before_time": "{days}"},
        "es": {"range": "de {first} a {last}", "before_time": "{days},"},
    },
    "duration": {
        "en": {
            "year_one": "1 year",
            "years": "{n} years",
            "card_expiry": "{card} exp {expiry}",
            "left_one": "1 day left",
            "left": "{n} days left",
            "today": "ends today",
            "ago_one": "1 day ago",
            "ago": "{n} days ago",
        },
        "es": {
            "year_one": "1 año",
            "years": "{n} años",
            "card_expiry": "{card}, vence {expiry}",
            "left_one": "queda 1 día",
            "left": "quedan {n} días",
            "today": "termina hoy",
            "ago_one": "hace 1 día",
            "ago": "hace {n} días",
        },
    },
}
_AND = {"en": " and ", "es": " y "}
_NOBODY = {"en": "your account team", "es": "tu equipo de cuenta"}


def _name(kind: str, value: Optional[str], language: str) -> str:
    if not value:
        return ""
    return _NAMES[kind].get(language, _NAMES[kind]["en"]).get(value, value)


Namer = Callable[[Optional[str], str], str]


def _namer(kind: str) -> Namer:
    """`namer(value, language)`: the value's name in that language (the value if unnamed)."""
    return lambda value, language: _name(kind, value, language)


role: Namer = _namer("role")
country: Namer = _namer("country")
status: Namer = _namer("status")
plan: Namer = _namer("plan")
report: Namer = _namer("report")
address_kind: Namer = _namer("address_kind")
account_type: Namer = _namer("account_type")
region: Namer = _namer("region")


def names(kind: str, language: str) -> Dict[str, str]:
    """Every value of a kind ('status', 'plan', ...) with its name in that language.

    For a page that names the values it is sent itself (the agent console's tables get
    their rows from the desk socket, as the services store them).
    """
    return dict(_NAMES[kind].get(language, _NAMES[kind]["en"]))


def yes_no(value: bool, language: str) -> str:
    """'yes' / 'no', 'sí' / 'no'."""
    return _name("answer", "yes" if value else "no", language)


def shipping_method(value: Optional[str], language: str) -> str:
    """A shipping method by its stored (English) name; an unknown one as stored."""
    return _name("shipping_method", value, language)


def missing(what: str, language: str) -> str:
    """What a reply says for a value that is not there: 'none', 'not set', 'not yet'..."""
    return _name("missing", what, language)


_WEEKDAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_DAY_SPAN = re.compile(rf"\b({_WEEKDAYS})(?:\s*-\s*({_WEEKDAYS}))?\b(?=(\s+\d)?)")


def hours(value: str, language: str) -> str:
    """Opening hours as stored ('Mon-Fri 8:00-18:00 CET') with the days in that language."""

    def days(found: re.Match) -> str:
        first, last, time_follows = found.group(1), found.group(2), found.group(3)
        span = _name("weekday", first, language)
        if last:
            words = _NAMES["day_span"].get(language, _NAMES["day_span"]["en"])
            span = words["range"].format(first=span, last=_name("weekday", last, language))
        if time_follows:
            words = _NAMES["day_span"].get(language, _NAMES["day_span"]["en"])
            span = words["before_time"].format(days=span)
        return span

    return _DAY_SPAN.sub(days, value)


def _duration(key: str, language: str, n: int = 0) -> str:
    return _name("duration", key, language).format(n=n)


def years(n: int, language: str) -> str:
    """'1 year', '3 years' / '1 año', '3 años'."""
    return _duration("year_one", language) if n == 1 else _duration("years", language, n)


def card(method: schemas.PaymentMethodOut, language: str) -> str:
    """'Visa •••• 1881 exp 11/27' / 'Visa •••• 1881, vence 11/27': a saved card, masked."""
    masked = f"{method.brand} •••• {method.last4}"
    if not (method.exp_month and method.exp_year):
        return masked
    template = _name("duration", "card_expiry", language)
    return template.format(
        card=masked, expiry=f"{method.exp_month:02d}/{method.exp_year % 100:02d}"
    )


def days_left(days: int, language: str) -> str:
    """'25 days left' for a future end, '70 days ago' for a past one, 'ends today'."""
    if days == 0:
        return _duration("today", language)
    if days > 0:
        return _duration("left_one", language) if days == 1 else _duration("left", language, days)
    return _duration("ago_one", language) if days == -1 else _duration("ago", language, -days)


def field(target: str, value: Optional[str], language: str) -> str:
    """A profile field ('job title') or, for target 'company', a company field."""
    return _name("company_field" if target == "company" else "profile_field", value, language)


def field_codes(target: str) -> Tuple[str, ...]:
    """The fields of the profile or of the company, as the services name them."""
    return tuple(_NAMES["company_field" if target == "company" else "profile_field"]["en"])


def thing(value: Optional[str], language: str) -> str:
    return _name("thing", value, language) or value or ""


def people(contacts: List[Dict[str, str]], language: str) -> str:
    """'Ana Álvarez (ana.admin@acme.example)'; several joined; none -> the account team."""
    named = [f"{c['name']} ({c['email']})" for c in contacts]
    if not named:
        return _NOBODY.get(language, _NOBODY["en"])
    if len(named) == 1:
        return named[0]
    return ", ".join(named[:-1]) + _AND.get(language, " and ") + named[-1]


def money(amount: schemas.Money, language: str) -> str:
    return lang.money(amount.cents, amount.currency, language)


def day(value: dt.date, language: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    return lang.day(value, language)


# --- field labels ---------------------------------------------------------------------
# What a card, a table or a confirmation calls each value it shows (`bot.chat.replies.Field`),
# and the headers of a table's own columns ("item": an item's number and title, "status",
# "link"; see `actions.view.table`), and the column headers of the portal's own tables and
# the agent console's (`bot.portal.areas`). The values arrive localised by the namers above;
# these are only the labels beside them, cased as they are shown (nothing re-cases them).
_FIELD_LABELS: Dict[str, Dict[str, str]] = {
    "en": {
        "access_group": "Access group",
        "account": "Account",
        "account_team": "Account team",
        "account_type": "Account type",
        "address": "Address",
        "amount": "Amount",
        "card": "Card",
        "channel": "Channel",
        "city": "City",
        "closed_on": "Closed",
        "country": "Country",
        "currency": "Currency",
        "current_role": "Current role",
        "current_value": "Current value",
        "customer_number": "Customer number",
        "days_left": "Time",
        "description": "Description",
        "detail": "Detail",
        "download": "Download",
        "due_on": "Due",
        "duration": "Duration",
        "email": "Email",
        "ends_on": "Ends",
        "estimated_delivery": "Estimated delivery",
        "expires_on": "Valid until",
        "holder": "Cardholder",
        "identity_provider": "Identity provider",
        "invoice_number": "Invoice",
        "issued_on": "Issued",
        "item": "Item",
        "job_title": "Job title",
        "kind": "Type",
        "label": "Label",
        "language": "Language",
        "legal_name": "Legal name",
        "link": "Link",
        "name": "Name",
        "new_role": "New role",
        "new_value": "New value",
        "number": "Number",
        "opened_on": "Opened",
        "order_number": "Order",
        "other_accounts": "Other accounts",
        "paid_on": "Paid on",
        "payment_method": "Payment method",
        "period_end": "To",
        "period_start": "From",
        "phone": "Phone",
        "placed_on": "Placed",
        "plan": "Plan",
        "postal_code": "Postal code",
        "product": "Product",
        "published_on": "Published",
        "quantity": "Quantity",
        "region": "State or region",
        "renews_on": "Renews",
        "report": "Report",
        "role": "Role",
        "rows": "Rows",
        "seats": "Seats",
        "service_tag": "Service tag",
        "shipping_method": "Shipping method",
        "sku": "SKU",
        "source_order_number": "Source order",
        "status": "Status",
        "street": "Street",
        "summary": "Summary",
        "title": "Title",
        "total": "Total",
        "tracking": "Tracking",
        "unit_price": "Unit price",
        "warranty_end": "Warranty ends",
        "warranty_plan": "Warranty plan",
        "warranty_status": "Warranty status",
    },
    "es": {
        "access_group": "Grupo de acceso",
        "account": "Cuenta",
        "account_team": "Equipo de cuenta",
        "account_type": "Tipo de cuenta",
        "address": "Dirección",
        "amount": "Importe",
        "card": "Tarjeta",
        "channel": "Canal",
        "city": "Ciudad",
        "closed_on": "Cerrada",
        "country": "País",
        "currency": "Moneda",
        "current_role": "Rol actual",
        "current_value": "Valor actual",
        "customer_number": "Número de cliente",
        "days_left": "Plazo",
        "description": "Descripción",
        "detail": "Dato",
        "download": "Descargar",
        "due_on": "Vence",
        "duration": "Duración",
        "email": "Correo",
        "ends_on": "Termina",
        "estimated_delivery": "Entrega estimada",
        "expires_on": "Válida hasta",
        "holder": "Titular",
        "identity_provider": "Proveedor de identidad",
        "invoice_number": "Factura",
        "issued_on": "Emitida",
        "item": "Elemento",
        "job_title": "Puesto",
        "kind": "Tipo",
        "label": "Etiqueta",
        "language": "Idioma",
        "legal_name": "Razón social",
        "link": "Enlace",
        "name": "Nombre",
        "new_role": "Rol nuevo",
        "new_value": "Valor nuevo",
        "number": "Número",
        "opened_on": "Abierta",
        "order_number": "Pedido",
        "other_accounts": "Otras cuentas",
        "paid_on": "Pagada el",
        "payment_method": "Método de pago",
        "period_end": "Hasta",
        "period_start": "Desde",
        "phone": "Teléfono",
        "placed_on": "Fecha del pedido",
        "plan": "Plan",
        "postal_code": "Código postal",
        "product": "Producto",
        "published_on": "Publicado",
        "quantity": "Cantidad",
        "region": "Estado o región",
        "renews_on": "Se renueva",
        "report": "Informe",
        "role": "Rol",
        "rows": "Filas",
        "seats": "Licencias",
        "service_tag": "Etiqueta de servicio",
        "shipping_method": "Método de envío",
        "sku": "Código de artículo",
        "source_order_number": "Pedido de origen",
        "status": "Estado",
        "street": "Calle",
        "summary": "Resumen",
        "title": "Título",
        "total": "Total",
        "tracking": "Seguimiento",
        "unit_price": "Precio unitario",
        "warranty_end": "Fin de la garantía",
        "warranty_plan": "Plan de garantía",
        "warranty_status": "Estado de la garantía",
    },
}


def field_label(name: str, language: str) -> str:
    """The label shown beside a value named `name` ('due_on' -> 'Due' / 'Vence')."""
    labels = _FIELD_LABELS.get(language, _FIELD_LABELS["en"])
    return labels.get(name) or _FIELD_LABELS["en"].get(name, name)


# --- words that introduce what a request is about (a form's first message) ---------------
# "open a service request for 3FJ8K21 because the screen flickers": after these words, anywhere
# in the message, the request goes on to say what is wrong (see actions.forms.request_text).
_REASON_WORDS: Dict[str, Tuple[str, ...]] = {
    "en": ("because",),
    "es": ("porque", "ya que", "debido a que"),
}
# These do so only right after the thing the request names: "para 3FJ8K21 que no enciende
# desde ayer" (elsewhere "que" is too common: "quiero que abras una solicitud...").
_AFTER_SUBJECT_WORDS: Dict[str, Tuple[str, ...]] = {
    "en": ("that", "which", "saying"),
    "es": ("que", "diciendo"),
}


def reason_words() -> Tuple[str, ...]:
    """Words of every language that start a request's reason wherever they are."""
    return tuple(w for words in _REASON_WORDS.values() for w in words)


def after_subject_words() -> Tuple[str, ...]:
    """Words of every language that start a request's reason right after what it names."""
    return tuple(w for words in _AFTER_SUBJECT_WORDS.values() for w in words)


# --- a span of time as people say it, in days --------------------------------------------
# "60 days", "the next 3 months", "un mes", "dos semanas", "next quarter": the window of a
# list such as "devices whose warranty ends in the next 60 days".
_SPAN_UNITS: Dict[str, int] = {
    "day": 1, "days": 1, "dia": 1, "dias": 1,
    "week": 7, "weeks": 7, "semana": 7, "semanas": 7,
    "fortnight": 14, "quincena": 15,
    "month": 30, "months": 30, "mes": 30, "meses": 30,
    "quarter": 91, "quarters": 91, "trimestre": 91, "trimestres": 91,
    "year": 365, "years": 365, "ano": 365, "anos": 365,
}  # fmt: skip
_SPAN_NUMBERS: Dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "thirty": 30,
    "eighteen": 18, "twenty four": 24, "thirty six": 36, "forty eight": 48,
    "sixty": 60, "ninety": 90, "couple of": 2, "few": 3,
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "doce": 12, "quince": 15, "treinta": 30,
    "dieciocho": 18, "veinticuatro": 24, "treinta y seis": 36, "cuarenta y ocho": 48,
    "sesenta": 60, "noventa": 90, "par de": 2,
}  # fmt: skip
_SPAN = re.compile(
    r"(?:(?P<n>\d{1,4}|"
    + "|".join(re.escape(w) for w in sorted(_SPAN_NUMBERS, key=len, reverse=True))
    + r")\s+)?(?P<unit>"
    + "|".join(sorted(_SPAN_UNITS, key=len, reverse=True))
    + r")\b"
)


def span_days(text: str) -> Optional[int]:
    """Days in a span of time said in English or Spanish; None when it names none.

    '60 days' -> 60, 'the next 3 months' -> 90, 'un mes' -> 30, 'dos semanas' -> 14,
    'next quarter' -> 91, 'a year' -> 365, 'soon' -> None.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())
    found = _SPAN.search(plain)
    if found is None:
        return None
    number = found["n"]
    count = int(number) if number and number.isdigit() else _SPAN_NUMBERS.get(number or "", 1)
    return count * _SPAN_UNITS[found["unit"]] if count > 0 else None
