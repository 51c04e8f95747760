"""Reports: which ones this person may run, and generating one for a period as a CSV link.

Generating is a form (`generate_report_form`) that asks only for the report
type; a period mentioned on the way ("this year", "el mes pasado", "last 30
days") is picked up by `parse_period`, otherwise the last 90 days are used. The
report is a write in the permission table: its summary waits for "yes".
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from rasa_sdk.events import SlotSet

from actions import i18n, view
from actions.base import AccountAction, Turn
from actions.changes import propose, register
from actions.forms import (
    AccountFormValidation,
    FormSubmission,
    LeaveForm,
    link_minutes,
    plain_text,
)
from bot.chat.replies import CardData, ConfirmationData, Item, Link, ListData
from bot.services import schemas

DEFAULT_DAYS = 90
MAX_YEARS = 3
MAX_DAYS = MAX_YEARS * 366  # the services refuse longer reports
REPORT_SLOTS: Tuple[str, ...] = ("report_type", "report_period")

# What people type for each report when they answer the question (accents removed).
_TYPE_WORDS: Dict[str, tuple] = {
    "purchase_history": ("purchase history", "purchases", "historial de compras", "compras"),
    "spend": ("spend", "spending", "spend by month", "gasto", "gastos", "gasto por mes"),
    "order_history": ("order history", "orders", "historial de pedidos", "pedidos"),
}


def normalize_report_type(value: str) -> Optional[str]:
    """'Purchase History' / 'gastos' / 'order_history' -> the report's type; None if unknown."""
    wanted = " ".join(plain_text(value).replace("_", " ").split())
    for report_type, words in _TYPE_WORDS.items():
        if wanted == report_type.replace("_", " ") or wanted in words:
            return report_type
    return None


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A closed range of days."""

    starts_on: dt.date
    ends_on: dt.date

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days

    def as_slot(self) -> Dict[str, str]:
        return {"starts_on": self.starts_on.isoformat(), "ends_on": self.ends_on.isoformat()}

    @classmethod
    def from_slot(cls, value: Any) -> Optional[Period]:
        try:
            return cls(
                dt.date.fromisoformat(value["starts_on"]), dt.date.fromisoformat(value["ends_on"])
            )
        except (TypeError, KeyError, ValueError):
            return None


def _months_back(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def last_days(days: int, today: dt.date) -> Period:
    """The last `days` days up to today, counted like the recent-orders list."""
    return Period(today - dt.timedelta(days=days), today)


def default_period(today: dt.date) -> Period:
    return last_days(DEFAULT_DAYS, today)


_UNITS = {
    "day": "day",
    "days": "day",
    "dia": "day",
    "dias": "day",
    "week": "week",
    "weeks": "week",
    "semana": "week",
    "semanas": "week",
    "month": "month",
    "months": "month",
    "mes": "month",
    "meses": "month",
    "year": "year",
    "years": "year",
    "ano": "year",
    "anos": "year",
}
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
_LAST_N = re.compile(rf"\b(?:last|past|previous|ultim[oa]s|pasad[oa]s)\s+(\d{{1,4}})\s+({_UNIT})\b")
_THIS_YEAR = re.compile(r"\b(?:this year|este ano|ano en curso)\b")
_LAST_YEAR = re.compile(r"\b(?:last year|previous year|ano pasado|ano anterior)\b")
_THIS_MONTH = re.compile(r"\b(?:this month|este mes|mes en curso)\b")
_LAST_MONTH = re.compile(r"\b(?:last month|previous month|mes pasado|mes anterior)\b")


def parse_period(text: str, today: dt.date) -> Optional[Period]:
    """The period a message names, in English or Spanish; None when it names none.

    Understood: "this year"/"este año", "last year"/"el año pasado", "this
    month"/"este mes", "last month"/"el mes pasado" (the whole calendar month),
    "last N days|weeks|months|years"/"últimos N días|semanas|meses|años".
    """
    plain = plain_text(text)
    found = _LAST_N.search(plain)
    if found:
        count, unit = int(found.group(1)), _UNITS[found.group(2)]
        if count < 1:
            return None
        if unit == "day":
            return last_days(count, today)
        if unit == "week":
            return last_days(7 * count, today)
        months = count if unit == "month" else 12 * count
        return Period(_months_back(today, months), today)
    if _LAST_MONTH.search(plain):
        last_of_previous = today.replace(day=1) - dt.timedelta(days=1)
        return Period(last_of_previous.replace(day=1), last_of_previous)
    if _THIS_MONTH.search(plain):
        return Period(today.replace(day=1), today)
    if _LAST_YEAR.search(plain):
        return Period(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31))
    if _THIS_YEAR.search(plain):
        return Period(dt.date(today.year, 1, 1), today)
    return None


# --- actions -----------------------------------------------------------------------------


class ActionListReports(AccountAction):
    capability = "list_reports"

    def name(self) -> str:
        return "action_list_reports"

    async def act(self, turn: Turn) -> None:
        types = await turn.session.report_types()
        names = [(t.type, i18n.report(t.type, turn.language)) for t in types]
        turn.show(
            "utter_report_types",
            ListData("reports", turn.account.name, [Item(id=t, title=n) for t, n in names]),
            account=turn.account.name,
            reports="\n".join(f"• {name}" for _, name in names),
            days=DEFAULT_DAYS,
        )


class ValidateGenerateReportForm(AccountFormValidation):
    capability = "generate_report"
    form_slots = ("report_type",)
    extra_slots = ("report_period",)

    def name(self) -> str:
        return "validate_generate_report_form"

    async def check_report_type(self, value: Any, turn: Turn) -> Optional[str]:
        report_type = normalize_report_type(str(value or ""))
        if report_type is None:
            names = [i18n.report(t, turn.language) for t in schemas.REPORT_TYPES]
            turn.say("utter_unknown_report_type", value=str(value or ""), reports=", ".join(names))
        return report_type

    async def also(self, turn: Turn, values: Dict[str, Any], answered: List[str]) -> None:
        period = parse_period(turn.tracker.latest_message.get("text") or "", dt.date.today())
        if period is None:
            return
        if period.days > MAX_DAYS:
            turn.say("utter_report_period_too_long", years=MAX_YEARS)
            return
        turn.events.append(SlotSet("report_period", period.as_slot()))


class ActionGenerateReport(FormSubmission):
    """The form is complete: say which report for which days, and ask for "yes"."""

    capability = "generate_report"
    form_slots = ("report_type",)

    def name(self) -> str:
        return "action_generate_report"

    async def act(self, turn: Turn) -> None:
        period = Period.from_slot(turn.slot("report_period")) or default_period(dt.date.today())
        turn.events.append(SlotSet("report_period", None))
        (report_type,) = self.answers(turn)
        summary = ConfirmationData(
            "generate_report",
            i18n.report(report_type, turn.language),
            view.fields(
                turn,
                report=i18n.report(report_type, turn.language),
                period_start=turn.day(period.starts_on),
                period_end=turn.day(period.ends_on),
            ),
        )
        turn.show(
            "utter_report_summary",
            summary,
            report=i18n.report(report_type, turn.language),
            starts=turn.day(period.starts_on),
            ends=turn.day(period.ends_on),
        )
        propose(turn, "generate_report", {"type": report_type, **period.as_slot()})


@register("generate_report", capability="generate_report")
async def generate_report(turn: Turn, params: Dict[str, Any], key: str) -> None:
    period = Period.from_slot(params)
    assert period is not None, "proposed reports always carry their period"
    report = await turn.session.generate_report(
        params["type"], period.starts_on, period.ends_on, idempotency_key=key
    )
    csv = Link(label=i18n.field_label("download", turn.language), url=report.link.url)
    ready = Item(
        id=str(report.id),
        title=i18n.report(report.type, turn.language),
        fields=view.fields(
            turn,
            period_start=turn.day(report.starts_on),
            period_end=turn.day(report.ends_on),
            rows=str(report.rows),
        ),
        link=csv,
    )
    turn.show(
        "utter_report_ready",
        CardData("report", ready),
        report=i18n.report(report.type, turn.language),
        starts=turn.day(report.starts_on),
        ends=turn.day(report.ends_on),
        rows=report.rows,
        url=report.link.url,
        minutes=link_minutes(report.link),
    )


class ActionLeaveGenerateReportForm(LeaveForm):
    form_slots = REPORT_SLOTS

    def name(self) -> str:
        return "action_leave_generate_report_form"
