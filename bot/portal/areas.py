"""The self-service areas of the portal page: which account services each one reads.

Each area is a few sections; each section is one GET of the account services, with
the columns shown. The portal only reads through the services, as the signed-in
person, so what a panel shows is exactly what the assistant can see - and a panel
the person may not use shows the services' refusal and its reason, as the
assistant explains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Sequence, Tuple


@dataclass(frozen=True)
class Section:
    name: str
    path: str
    columns: Sequence[str]
    # Where the rows are in the answer: "" for a list, a key for an object holding one.
    rows_at: str = ""


AREAS: Dict[str, Tuple[Section, ...]] = {
    "orders": (
        Section(
            "orders",
            "/orders",
            ("number", "placed_at", "channel", "status", "total", "estimated_delivery"),
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
        ),
        Section("account_team", "/account-team", ("name", "title", "email", "phone")),
        Section("documents", "/documents", ("title", "kind", "published_on")),
    ),
    "reports": (Section("reports", "/reports", ("type", "name")),),
    "users": (Section("users", "/users", ("name", "email", "role", "status")),),
    "settings": (
        Section("profile", "/profile", ("name", "email", "phone", "job_title", "language")),
        Section(
            "company",
            "/account",
            ("name", "customer_number", "type", "country", "currency", "legal_name"),
        ),
        Section("addresses", "/addresses", ("label", "line1", "city", "country")),
    ),
}


def cell(value: Any) -> str:
    """One value as the table shows it (money as amount and currency, lists joined)."""
    if value is None:
        return ""
    if isinstance(value, Mapping) and {"cents", "currency"} <= set(value):
        return f"{value['cents'] / 100:,.2f} {value['currency']}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(section: Section, answer: Any) -> Dict[str, Any]:
    """The section's rows from the services' answer, each as the strings of its columns."""
    found = (
        answer.get(section.rows_at) if section.rows_at and isinstance(answer, Mapping) else answer
    )
    rows: List[Any] = found if isinstance(found, list) else [found] if found else []
    return {
        "name": section.name,
        "columns": list(section.columns),
        "rows": [
            [cell(row.get(c)) for c in section.columns] for row in rows if isinstance(row, Mapping)
        ],
    }
