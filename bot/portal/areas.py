"""The self-service areas of the portal page: which account services each one reads.

Each area is a few sections; each section is one GET of the account services, with
the columns shown. The portal only reads through the services, as the signed-in
person, so what a panel shows is exactly what the assistant can see - and a panel
the person may not use shows the services' refusal and its reason, as the
assistant explains it.

A table is shown in the person's language with the chat's own words (`actions.i18n`):
each column is labelled as the widget labels that field, a code the services store
(a status, a plan, a role) is named as the widget names it, and dates and amounts are
written as the chat writes them ("12 dic 2026", "12.345,67 MXN"). The columns stay
the services' keys, so a page or a test can find a column whatever the language.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from actions import i18n
from bot import language as lang

# The kind of names (`actions.i18n`) a field's codes are shown with; a field not here, or a
# code its kind does not name, is shown as stored.
NAMED: Dict[str, str] = {
    "status": "status",
    "warranty_status": "status",
    "warranty_plan": "plan",
    "role": "role",
    "account_type": "account_type",
    "report": "report",
    "country": "country",
}
# The fields that hold a day or a moment (ISO text in the services' answers), shown as days.
DATES = frozenset(
    {
        "placed_on",
        "estimated_delivery",
        "expires_on",
        "issued_on",
        "due_on",
        "warranty_end",
        "ends_on",
        "renews_on",
        "opened_on",
        "published_on",
    }
)


@dataclass(frozen=True)
class Section:
    name: str
    path: str
    columns: Sequence[str]
    # Where the rows are in the answer: "" for a list, a key for an object holding one.
    rows_at: str = ""
    # The field a column shows where its key says less (a company's "type" is its account
    # type, a report's "type" names the report): its label and names are that field's.
    shows: Mapping[str, str] = field(default_factory=dict, hash=False)

    def field_of(self, column: str) -> str:
        return self.shows.get(column, column)


AREAS: Dict[str, Tuple[Section, ...]] = {
    "orders": (
        Section(
            "orders",
            "/orders",
            ("number", "placed_at", "channel", "status", "total", "estimated_delivery"),
            shows={"placed_at": "placed_on"},
        ),
        Section(
            "cart",
            "/cart",
            ("sku", "description", "quantity", "unit_price", "source_order_number"),
            rows_at="items",
        ),
        Section("quotes", "/quotes", ("number", "description", "status", "total", "expires_on")),
    ),
    "invoices": (
        Section(
            "invoices",
            "/invoices?status=all",
            ("number", "status", "issued_on", "due_on", "amount", "order_number"),
            rows_at="invoices",
        ),
    ),
    "devices": (
        Section(
            "devices",
            "/devices",
            ("service_tag", "product", "warranty_plan", "warranty_end", "warranty_status"),
        ),
    ),
    "contracts": (
        Section(
            "contracts",
            "/contracts",
            ("number", "service_tag", "product", "plan_name", "ends_on", "status"),
            shows={"plan_name": "plan"},
        ),
    ),
    "subscriptions": (
        Section("subscriptions", "/subscriptions", ("product", "seats", "status", "renews_on")),
    ),
    "support": (
        Section(
            "service_requests",
            "/service-requests",
            ("number", "service_tag", "summary", "status", "opened_at"),
            shows={"opened_at": "opened_on"},
        ),
        Section(
            "account_team",
            "/account-team",
            ("name", "title", "email", "phone"),
            shows={"title": "job_title"},
        ),
        Section("documents", "/documents", ("title", "kind", "published_on")),
    ),
    "reports": (Section("reports", "/reports", ("type", "name"), shows={"type": "report"}),),
    "users": (Section("users", "/users", ("name", "email", "role", "status")),),
    "settings": (
        Section("profile", "/profile", ("name", "email", "phone", "job_title", "language")),
        Section(
            "company",
            "/account",
            ("name", "customer_number", "type", "country", "currency", "legal_name"),
            shows={"type": "account_type"},
        ),
        Section(
            "addresses",
            "/addresses",
            ("label", "line1", "city", "country"),
            shows={"line1": "address"},
        ),
    ),
}


def labels(section: Section, language: str) -> List[str]:
    """Each column's header in the person's language, as the chat labels that field."""
    return [i18n.field_label(section.field_of(c), language) for c in section.columns]


def words(section: Section, language: str) -> Dict[str, Dict[str, str]]:
    """For each column of codes (statuses, plans, roles...), every code's name in the language."""
    named = {c: NAMED.get(section.field_of(c)) for c in section.columns}
    return {c: i18n.names(kind, language) for c, kind in named.items() if kind}


def cell(
    value: Any, language: str, names: Optional[Mapping[str, str]] = None, *, is_date: bool = False
) -> str:
    """One value as the table shows it.

    Money and days as the chat writes them in the language, lists joined, yes/no in
    the language, and a code by its name in `names` (its column's words) when it has
    one, else as stored. A date column's value that is not a date is shown as stored.
    """
    if value is None:
        return ""
    if isinstance(value, Mapping) and {"cents", "currency"} <= set(value):
        return lang.money(int(value["cents"]), str(value["currency"]), language)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v, language, names, is_date=is_date) for v in value)
    if isinstance(value, bool):
        return i18n.yes_no(value, language)
    shown = str(value)
    if is_date:
        day = _as_day(shown)
        return i18n.day(day, language) if day else shown
    return (names or {}).get(shown) or shown


def _as_day(text: str) -> Optional[dt.date]:
    """The day of an ISO date or date-time ("2026-11-25", "2026-11-25T09:30:00Z")."""
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def table(section: Section, answer: Any, language: str) -> Dict[str, Any]:
    """The section's rows from the services' answer, in the person's language.

    Returns:
        name, columns (the services' keys), labels (the columns' headers) and rows,
        each row the strings of its columns.
    """
    found = (
        answer.get(section.rows_at) if section.rows_at and isinstance(answer, Mapping) else answer
    )
    rows: List[Any] = found if isinstance(found, list) else [found] if found else []
    named = words(section, language)
    dates = {c for c in section.columns if section.field_of(c) in DATES}
    return {
        "name": section.name,
        "columns": list(section.columns),
        "labels": labels(section, language),
        "rows": [
            [cell(row.get(c), language, named.get(c), is_date=c in dates) for c in section.columns]
            for row in rows
            if isinstance(row, Mapping)
        ],
    }
