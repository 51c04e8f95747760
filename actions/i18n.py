"""Names of values (roles, countries, statuses, plans, reports, fields) and number/date
formats per language.

Sentences live in the domain's responses; this module only localises the values
placed into them.
"""

from __future__ import annotations

import datetime as dt
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
