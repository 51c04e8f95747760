"""Reports: the period parser (EN + ES), and listing and generating against the real services."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.changes import ActionConfirmChange
from actions.reports import (
    ActionGenerateReport,
    ActionLeaveGenerateReportForm,
    ActionListReports,
    Period,
    ValidateGenerateReportForm,
    default_period,
    normalize_report_type,
    parse_period,
)
from bot import language
from bot.services import models as m
from tests.actions.harness import check_form, entity_in, field_labels, field_values, start_form

FORM = "generate_report_form"
TODAY = dt.date(2025, 5, 20)
D = dt.date


# --- the period parser -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "starts", "ends"),
    [
        ("spend report for this year", D(2025, 1, 1), TODAY),
        ("informe de gasto de este año", D(2025, 1, 1), TODAY),
        ("order history for last month", D(2025, 4, 1), D(2025, 4, 30)),
        ("historial de pedidos del mes pasado", D(2025, 4, 1), D(2025, 4, 30)),
        ("el mes anterior", D(2025, 4, 1), D(2025, 4, 30)),
        ("purchases in the last 30 days", D(2025, 4, 20), TODAY),
        ("compras de los últimos 30 días", D(2025, 4, 20), TODAY),
        ("ULTIMOS 30 DIAS", D(2025, 4, 20), TODAY),
        ("past 2 weeks", D(2025, 5, 6), TODAY),
        ("últimas 2 semanas", D(2025, 5, 6), TODAY),
        ("spend for the last 3 months", D(2025, 2, 20), TODAY),
        ("gasto de los últimos 6 meses", D(2024, 11, 20), TODAY),
        ("last year", D(2024, 1, 1), D(2024, 12, 31)),
        ("el año pasado", D(2024, 1, 1), D(2024, 12, 31)),
        ("this month", D(2025, 5, 1), TODAY),
        ("este mes", D(2025, 5, 1), TODAY),
        ("los últimos 2 años", D(2023, 5, 20), TODAY),
    ],
)
def test_periods_in_english_and_spanish(text, starts, ends):
    assert parse_period(text, TODAY) == Period(starts, ends)


@pytest.mark.parametrize(
    ("text", "today", "starts", "ends"),
    [
        ("last month", D(2025, 1, 15), D(2024, 12, 1), D(2024, 12, 31)),
        ("el mes pasado", D(2024, 3, 1), D(2024, 2, 1), D(2024, 2, 29)),
        ("last 1 month", D(2025, 3, 31), D(2025, 2, 28), D(2025, 3, 31)),
        ("this year", D(2025, 1, 1), D(2025, 1, 1), D(2025, 1, 1)),
    ],
)
def test_periods_at_the_edges_of_months_and_years(text, today, starts, ends):
    assert parse_period(text, today) == Period(starts, ends)


@pytest.mark.parametrize(
    "text",
    ["spend report", "genera un informe de gasto", "last 0 days", "for 2 reasons", "", "Q3"],
)
def test_no_period_named(text):
    assert parse_period(text, TODAY) is None


def test_the_default_is_the_last_90_days():
    assert default_period(TODAY) == Period(D(2025, 2, 19), TODAY)
    assert default_period(TODAY).days == 90


def test_a_period_survives_the_slot():
    period = Period(D(2025, 1, 1), TODAY)
    assert Period.from_slot(period.as_slot()) == period
    assert Period.from_slot(None) is None and Period.from_slot({"starts_on": "x"}) is None


@pytest.mark.parametrize(
    ("said", "report_type"),
    [
        ("spend", "spend"),
        ("Purchase History", "purchase_history"),
        ("order_history", "order_history"),
        ("gastos", "spend"),
        ("Historial de compras", "purchase_history"),
        ("historial de pedidos", "order_history"),
        ("weather", None),
    ],
)
def test_report_types_as_people_say_them(said, report_type):
    assert normalize_report_type(said) == report_type


# --- against the services ----------------------------------------------------------------


def reports_of(services, email: str) -> int:
    with Session(services.engine) as session:
        return session.scalar(
            select(func.count()).select_from(m.Report).filter_by(user_id=services.user_id(email))
        )


async def test_list_reports_for_someone_with_reporting_access(services, run):
    outcome = await run(ActionListReports(), services.token("ana.admin@acme.example"))
    assert outcome.responses == ["utter_report_types"]
    listed = outcome.values("utter_report_types")["reports"]
    assert "Purchase history" in listed and "Spend by month" in listed


async def test_without_reporting_access_ben_is_told_who_can_grant_it(services, run):
    outcome = await run(ActionListReports(), services.token("ben.buyer@acme.example"))
    assert outcome.responses == ["utter_denied_user_flag"]
    assert "Ana Álvarez" in outcome.values("utter_denied_user_flag")["admins"]


async def test_ben_asking_for_a_report_is_refused_and_the_form_stops(services, run):
    token = services.token("ben.buyer@acme.example")
    checked = await report_form(
        ValidateGenerateReportForm(), token, {"report_type": "spend"}, text="spend this year"
    )
    assert checked.responses == ["utter_denied_user_flag"]
    assert "Ana Álvarez" in checked.values("utter_denied_user_flag")["admins"]
    assert checked.slot("requested_slot") is None and checked.slot("report_type") is None
    submitted = await run(ActionGenerateReport(), token)
    assert submitted.responses == []


async def test_the_form_takes_the_type_and_a_period_said_on_the_way(services, run):
    checked = await report_form(
        ValidateGenerateReportForm(),
        services.token("ana.admin@acme.example"),
        {"report_type": "Spend"},
        text="spend report for last month",
    )
    assert checked.responses == []
    assert checked.slot("report_type") == "spend"
    assert checked.slot("requested_slot") is None
    assert Period.from_slot(checked.slot("report_period")) == parse_period(
        "last month", dt.date.today()
    )


async def test_an_unknown_report_or_too_long_period_is_asked_again(services, run):
    checked = await report_form(
        ValidateGenerateReportForm(),
        services.token("ana.admin@acme.example"),
        {"report_type": "weather"},
        text="weather report for the last 5 years",
    )
    assert checked.responses == ["utter_unknown_report_type", "utter_report_period_too_long"]
    assert checked.slot("report_type") is None and checked.slot("report_period") == "<unset>"
    assert checked.slot("requested_slot") == "report_type"


async def test_a_report_confirmed_twice_is_generated_once(services, run):
    email = "ana.admin@acme.example"
    token = services.token(email)
    period = Period(dt.date.today() - dt.timedelta(days=days_ago(services)), dt.date.today())
    proposed = await run(
        ActionGenerateReport(),
        token,
        slots={"report_type": "order_history", "report_period": period.as_slot()},
    )
    assert proposed.responses == ["utter_report_summary", "utter_confirm_buttons"]
    assert proposed.slot("report_type") is None and proposed.slot("report_period") is None
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "generate_report" and pending["params"]["type"] == "order_history"
    before = reports_of(services, email)

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_report_ready"]
    values = done.values("utter_report_ready")
    assert values["rows"] == acme_orders(services)
    csv = httpx.get(values["url"], timeout=10)
    assert csv.status_code == 200 and csv.text.startswith("order_number,")
    assert len(csv.text.strip().splitlines()) == 1 + values["rows"]

    again = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert again.responses == ["utter_report_ready"]
    assert reports_of(services, email) == before + 1


def acme_orders(services) -> int:
    with Session(services.engine) as session:
        return session.scalar(
            select(func.count())
            .select_from(m.Order)
            .filter_by(account_id=services.account_id("Acme Corporation"))
        )


def days_ago(services) -> int:
    """Days back to just before the oldest Acme order (the seeded dates follow today)."""
    with Session(services.engine) as session:
        oldest = session.scalar(
            select(func.min(m.Order.placed_at)).filter_by(
                account_id=services.account_id("Acme Corporation")
            )
        )
    return (dt.date.today() - oldest.date()).days + 1


async def test_without_a_period_the_last_90_days_are_proposed(services, run):
    proposed = await run(
        ActionGenerateReport(),
        services.token("ana.admin@acme.example"),
        slots={"report_type": "spend"},
    )
    period = default_period(dt.date.today())
    assert proposed.slot("pending_change")["params"] == {"type": "spend", **period.as_slot()}
    values = proposed.values("utter_report_summary")
    assert values["report"] == "Spend by month"
    assert values["starts"] == language.day(period.starts_on, "en")


async def test_report_in_spanish_for_diego(services, run):
    token = services.token("diego.admin@globex.example")
    listed = await run(ActionListReports(), token, slots={"language": "es"})
    assert "Historial de compras" in listed.values("utter_report_types")["reports"]
    this_year = parse_period("este año", dt.date.today())
    assert this_year is not None
    proposed = await run(
        ActionGenerateReport(),
        token,
        slots={
            "language": "es",
            "report_type": "purchase_history",
            "report_period": this_year.as_slot(),
        },
    )
    values = proposed.values("utter_report_summary")
    assert values["report"] == "Historial de compras"
    assert values["starts"] == language.day(this_year.starts_on, "es")
    done = await run(
        ActionConfirmChange(),
        token,
        slots={"language": "es", "pending_change": proposed.slot("pending_change")},
    )
    assert done.values("utter_report_ready")["report"] == "Historial de compras"


async def test_cancel_inside_the_form_forgets_the_report(run):
    outcome = await run(
        ActionLeaveGenerateReportForm(),
        None,
        slots={"report_type": "spend", "report_period": {"x": uuid.uuid4().hex}},
    )
    assert outcome.responses == ["utter_change_cancelled"]
    assert outcome.slot("report_type") is None and outcome.slot("report_period") is None


async def report_form(action, token, candidates, **kwargs):
    """The generate-report form, validated as Rasa runs it."""
    return await check_form(action, token, FORM, candidates, intent="generate_report", **kwargs)


# --- the message that starts the form ------------------------------------------------------


async def test_a_request_naming_the_report_and_period_asks_nothing_more(services, run):
    text = "run the spend report for last month"
    started = await start_form(
        ValidateGenerateReportForm(),
        services.token("ana.admin@acme.example"),
        FORM,
        text=text,
        intent="generate_report",
        entities=[entity_in(text, "report_type", "spend")],
    )
    assert started.responses == []
    assert started.slot("report_type") == "spend"
    assert started.slot("requested_slot") is None
    assert Period.from_slot(started.slot("report_period")) == parse_period(
        "last month", dt.date.today()
    )


async def test_a_request_in_spanish_naming_the_report(services, run):
    text = "genera el historial de compras de este año"
    started = await start_form(
        ValidateGenerateReportForm(),
        services.token("diego.admin@globex.example"),
        FORM,
        text=text,
        intent="generate_report",
        entities=[entity_in(text, "report_type", "historial de compras", "purchase_history")],
        language="es",
    )
    assert started.responses == []
    assert started.slot("report_type") == "purchase_history"
    assert started.slot("requested_slot") is None


async def test_a_request_without_the_report_asks_which(services, run):
    started = await start_form(
        ValidateGenerateReportForm(),
        services.token("ana.admin@acme.example"),
        FORM,
        text="generate a report for this year",
        intent="generate_report",
    )
    assert started.responses == []
    assert started.slot("requested_slot") == "report_type"


# --- what the actions show as data beside the text ---------------------------------------


async def test_the_reports_a_person_may_run_are_a_list(services, run):
    outcome = await run(
        ActionListReports(), services.token("diego.admin@globex.example"), slots={"language": "es"}
    )
    shown = outcome.data("utter_report_types")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "reports", "Globex México")
    titles = {item["id"]: item["title"] for item in shown["items"]}
    assert titles["purchase_history"] == "Historial de compras"
    assert titles["spend"] == "Gasto por mes"


async def test_a_report_summary_carries_a_confirmation_and_the_result_a_card(services, run):
    token = services.token("diego.admin@globex.example")
    period = default_period(dt.date.today())
    proposed = await run(
        ActionGenerateReport(),
        token,
        slots={"language": "es", "report_type": "spend", "report_period": period.as_slot()},
    )
    shown = proposed.data("utter_report_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "generate_report",
        "Gasto por mes",
    )
    assert field_values(shown["fields"]) == {
        "report": "Gasto por mes",
        "period_start": language.day(period.starts_on, "es"),
        "period_end": language.day(period.ends_on, "es"),
    }
    assert field_labels(shown["fields"]) == {
        "report": "Informe",
        "period_start": "Desde",
        "period_end": "Hasta",
    }

    done = await run(
        ActionConfirmChange(),
        token,
        slots={"language": "es", "pending_change": proposed.slot("pending_change")},
    )
    ready = done.data("utter_report_ready")
    assert (ready["type"], ready["kind"]) == ("card", "report")
    assert ready["item"]["title"] == "Gasto por mes"
    assert ready["item"]["link"] == {
        "label": "Descargar",
        "url": done.values("utter_report_ready")["url"],
    }
    rows = str(done.values("utter_report_ready")["rows"])
    assert field_values(ready["item"]["fields"])["rows"] == rows
