"""What every request meets at the services' edge: rate limits, bounds, the audit of refusals.

The rate-limit tests run their own services process with small budgets; the
others use the shared services on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.conftest import RunningServices, start_services, stop_services

ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"


@pytest.fixture
def tight(tmp_path: Path) -> Iterator[RunningServices]:
    """Fresh services allowing 8 calls a minute per person (2 at once), 4 per address (1)."""
    path = tmp_path / "premier.db"
    running = start_services(
        "sqlite",
        f"sqlite:///{path}",
        overrides={"SERVICES_RATE_PER_PERSON": "8", "SERVICES_RATE_PER_ADDRESS": "4"},
    )
    yield running
    stop_services(running)


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["retry_after"] == wait
    assert f"try again in {wait} seconds" in error["message"]


def test_a_person_over_their_budget_is_told_when_to_come_back(tight):
    with tight.client(ANA) as ana, tight.client(BEN) as ben:
        assert ana.get("/me").status_code == 200
        assert ana.get("/me").status_code == 200
        assert_rate_limited(ana.get("/me"))
        # another person has a budget of their own, and a new token is still the same person
        assert ben.get("/me").status_code == 200
    with tight.client(ANA) as ana_again:
        assert_rate_limited(ana_again.get("/account"))


def test_callers_without_a_token_are_limited_by_address(tight):
    with httpx.Client(base_url=tight.base_url, timeout=10) as anonymous:
        assert anonymous.get("/support-contacts").status_code == 200
        assert_rate_limited(anonymous.get("/support-contacts"))
        assert_rate_limited(anonymous.get("/downloads/not-a-link"))
        # the health check says nothing about anyone and is never limited
        for _ in range(5):
            assert anonymous.get("/health").status_code == 200


def test_guessing_tokens_spends_the_address_budget(tight):
    forged = {"Authorization": "Bearer not.a.token"}
    with httpx.Client(base_url=tight.base_url, timeout=10, headers=forged) as guesser:
        statuses = [guesser.get("/me").status_code for _ in range(3)]
    assert statuses[0] == 401
    assert 429 in statuses


@pytest.mark.parametrize("size", [9_000, 20_000, 2_000_000])
def test_request_headers_are_bounded(services, size):
    with httpx.Client(base_url=services.base_url, timeout=10) as client:
        try:
            response = client.get("/health", headers={"X-Padding": "a" * size})
            # 431 from the app; a head too large to parse in one read is a 400 from the server
            assert response.status_code in (400, 431)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            pass  # or the server hangs up on it: either way, nothing of it is processed
        assert client.get("/health").status_code == 200  # and the server is still there
        assert client.get("/health", headers={"X-Padding": "a" * 4_000}).status_code == 200


def test_a_refused_token_is_audited_with_where_it_came_from(services, audit_rows):
    # other tests' refusals share the log and are written a little after their answers:
    # wait for this request's own row, not for "one more row"
    mark = audit_rows.mark()
    with httpx.Client(base_url=services.base_url, timeout=10) as client:
        client.get("/invoices", headers={"Authorization": "Bearer forged.token.here"})
    rows = audit_rows(expect=1, after=mark, action="authenticate", target="GET /invoices")
    assert len(rows) == 1
    (row,) = rows
    assert (row.outcome, row.user_id, row.channel) == ("denied", None, "api")
    assert row.detail == {"reason": "unauthorized", "address": "127.0.0.1"}


@pytest.mark.parametrize(
    "header, recorded",
    [({"Premier-Channel": "portal"}, "portal"), ({}, "api"), ({"Premier-Channel": "evil"}, "api")],
    ids=["through the portal", "straight to the API", "an unknown channel"],
)
def test_the_audit_names_the_channel_the_request_entered_by(services, audit_rows, header, recorded):
    """A token signed for "test" is recorded by where it was used, not where it was made."""
    with Session(services.engine) as session:
        globex_order = session.scalar(
            select(m.Order.number)
            .join(m.Account, m.Account.id == m.Order.account_id)
            .where(m.Account.name == "Globex México")
            .limit(1)
        )
    with services.client(ANA) as ana:
        mark = audit_rows.mark()
        # another account's order: a probe, audited with the caller's channel
        assert ana.get(f"/orders/{globex_order}", headers=header).status_code == 404
    rows = audit_rows(expect=1, after=mark, action="probe:order_status")
    assert [row.channel for row in rows] == [recorded]
