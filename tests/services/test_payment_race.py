"""Check-then-write under concurrency: writes with *different* keys that race for one row.

Idempotency keys make a repeated request act once; these requests are all distinct
(eight people's worth of double clicks, each with its own key), so only the row they
all change can decide. Each test starts its requests together from threads, each with
its own HTTP client, several rounds, on each backend. On PostgreSQL (read committed)
a check made on a row read before the write's lock lets every request pass it; the
check must be made on the locked row, so exactly one acts and the rest get a clear
409 naming why.

The rows raced for are made by the tests (a fresh invoice, contract or invited user
per round), so the shared demo world is left as it was.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.services import models as m

ACME = "Acme Corporation"
ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"
AT_ONCE = 8
ROUNDS = 3


def race(
    services: Any, email: str, method: str, path: str, body: Optional[Dict[str, Any]]
) -> List[Tuple[str, httpx.Response]]:
    """Send the same request AT_ONCE times together, each with its own key and client."""
    start = threading.Barrier(AT_ONCE)
    headers = services.headers(email, ACME)

    def one(_: int) -> Tuple[str, httpx.Response]:
        key = f"race-{uuid.uuid4()}"
        with httpx.Client(base_url=services.base_url, timeout=90) as client:
            start.wait(timeout=30)
            response = client.request(
                method, path, headers={**headers, "Idempotency-Key": key}, json=body
            )
        return key, response

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(one, range(AT_ONCE)))


def ok_audits(services: Any, action: str, keys: List[str]) -> List[str]:
    """The idempotency keys of the successful `action` audit rows among `keys`."""
    with Session(services.engine) as session:
        rows = session.scalars(select(m.AuditEvent).filter_by(action=action, outcome="ok"))
        return [k for e in rows if (k := (e.detail or {}).get("idempotency_key")) in keys]


def recorded_keys(services: Any, keys: List[str]) -> List[str]:
    with Session(services.engine) as session:
        query = select(m.IdempotencyRecord.key).where(m.IdempotencyRecord.key.in_(keys))
        return list(session.scalars(query))


def one_winner(
    answers: List[Tuple[str, httpx.Response]], status: int, reason: str
) -> Tuple[str, httpx.Response]:
    """Exactly one request acted; every other one is a 409 with `reason`."""
    statuses = sorted(r.status_code for _, r in answers)
    assert statuses == sorted([status] + [409] * (AT_ONCE - 1)), [r.text for _, r in answers]
    for _, response in answers:
        if response.status_code == 409:
            error = response.json()["error"]
            assert (error["code"], error.get("reason")) == ("conflict", reason), response.text
    return next((k, r) for k, r in answers if r.status_code == status)


@pytest.fixture
def made(services: Any) -> Iterator[List[Tuple[type, Any]]]:
    """Rows a test makes or causes, as (model, where-clause); deleted afterwards in reverse."""
    rows: List[Tuple[type, Any]] = []
    yield rows
    with Session(services.engine) as session, session.begin():
        for model, where in reversed(rows):
            session.execute(delete(model).where(where))


# --- paying one invoice --------------------------------------------------------------------


def fresh_invoice(services: Any, made: List[Tuple[type, Any]]) -> str:
    """A new unpaid invoice of Acme, due in a month."""
    number = f"INV-18{secrets.randbelow(10**6):06d}"
    today = dt.date.today()
    with Session(services.engine) as session, session.begin():
        invoice = m.Invoice(
            number=number,
            account_id=services.account_id(ACME),
            issued_on=today,
            due_on=today + dt.timedelta(days=30),
            amount_cents=123_45,
        )
        session.add(invoice)
        session.flush()
        made.append((m.Invoice, m.Invoice.id == invoice.id))
        made.append((m.Payment, m.Payment.invoice_id == invoice.id))
    return number


def payments(services: Any, number: str) -> Tuple[int, bool]:
    with Session(services.engine) as session:
        invoice = session.scalar(select(m.Invoice).filter_by(number=number))
        count = session.scalar(
            select(func.count()).select_from(m.Payment).filter_by(invoice_id=invoice.id)
        )
        return int(count), invoice.paid_at is not None


def acme_card(services: Any) -> int:
    with Session(services.engine) as session:
        query = (
            select(m.PaymentMethod.id)
            .filter_by(account_id=services.account_id(ACME))
            .order_by(m.PaymentMethod.id)
        )
        return int(session.scalars(query).first())


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_payments_of_one_invoice_pay_it_once(services, made, round_):
    number = fresh_invoice(services, made)
    card = acme_card(services)

    answers = race(
        services, ANA, "POST", f"/invoices/{number}/payments", {"payment_method_id": card}
    )

    winner_key, winner = one_winner(answers, 200, "already_paid")
    assert winner.json()["invoice"]["status"] == "paid"
    assert payments(services, number) == (1, True)
    keys = [k for k, _ in answers]
    assert ok_audits(services, "pay_invoice", keys) == [winner_key]
    assert recorded_keys(services, keys) == [winner_key], "a refused payment keeps no key"


# --- renewing one contract -----------------------------------------------------------------


def fresh_contract(services: Any, made: List[Tuple[type, Any]]) -> Tuple[str, dt.date]:
    """A new device of Acme with a ProSupport contract ending in 20 days: (tag, end)."""
    tag = "R" + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
    today = dt.date.today()
    ends_on = today + dt.timedelta(days=20)
    with Session(services.engine) as session, session.begin():
        device = m.Device(
            service_tag=tag,
            account_id=services.account_id(ACME),
            product="LAT-7440",
            shipped_on=today - dt.timedelta(days=700),
            warranty_plan="prosupport",
            warranty_end=ends_on,
        )
        session.add(device)
        session.flush()
        contract = m.ServiceContract(
            number=f"SC-18{secrets.randbelow(10**6):06d}",
            account_id=device.account_id,
            device_id=device.id,
            plan_code="prosupport",
            starts_on=today - dt.timedelta(days=345),
            ends_on=ends_on,
        )
        session.add(contract)
        session.flush()
        made.append((m.Device, m.Device.id == device.id))
        made.append((m.ServiceContract, m.ServiceContract.id == contract.id))
    return tag, ends_on


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_renewals_of_one_contract_each_add_their_year(services, made, round_):
    """Renewing twice is two years, not a lost update: each renewal extends the locked row."""
    tag, ends_on = fresh_contract(services, made)

    answers = race(
        services,
        BEN,
        "POST",
        "/contracts/renewals",
        {"service_tags": [tag], "plan": "prosupport", "years": 1},
    )

    numbers = [r.json()["number"] for _, r in answers if r.status_code == 201]
    made.append((m.ContractChange, m.ContractChange.number.in_(numbers)))
    assert [r.status_code for _, r in answers] == [201] * AT_ONCE, [r.text for _, r in answers]
    with Session(services.engine) as session:
        final_end = session.scalar(
            select(m.ServiceContract.ends_on).join(m.Device).where(m.Device.service_tag == tag)
        )
        changes = session.scalar(
            select(func.count())
            .select_from(m.ContractChange)
            .where(m.ContractChange.number.in_(numbers))
        )
    assert final_end == add_years(ends_on, AT_ONCE), "every renewal adds its year"
    new_ends = sorted(
        dt.date.fromisoformat(r.json()["quote"]["lines"][0]["new_end"]) for _, r in answers
    )
    assert new_ends == [add_years(ends_on, n) for n in range(1, AT_ONCE + 1)]
    assert changes == AT_ONCE


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_upgrades_of_one_contract_upgrade_it_once(services, made, round_):
    tag, ends_on = fresh_contract(services, made)

    answers = race(
        services,
        BEN,
        "POST",
        "/contracts/upgrades",
        {"service_tags": [tag], "plan": "prosupport_plus"},
    )

    numbers = [r.json()["number"] for _, r in answers if r.status_code == 201]
    made.append((m.ContractChange, m.ContractChange.number.in_(numbers)))
    winner_key, _ = one_winner(answers, 201, "not_an_upgrade")
    with Session(services.engine) as session:
        contract = session.scalar(
            select(m.ServiceContract).join(m.Device).where(m.Device.service_tag == tag)
        )
        assert (contract.plan_code, contract.ends_on) == ("prosupport_plus", ends_on)
    keys = [k for k, _ in answers]
    assert ok_audits(services, "upgrade_service_contract", keys) == [winner_key]


# --- deactivating one user -----------------------------------------------------------------


def invited_user(services: Any, made: List[Tuple[type, Any]]) -> int:
    with services.client(ANA, ACME) as client:
        response = client.post(
            "/users/invitations",
            headers={"Idempotency-Key": f"race-invite-{uuid.uuid4()}"},
            json={"email": f"race-{uuid.uuid4().hex[:12]}@acme.example", "role": "shopper"},
        )
    assert response.status_code == 201, response.text
    user_id = int(response.json()["id"])
    made.append((m.User, m.User.id == user_id))
    made.append((m.Membership, m.Membership.user_id == user_id))
    return user_id


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_concurrent_deactivations_of_one_user_act_once(services, made, round_):
    user_id = invited_user(services, made)

    answers = race(services, ANA, "POST", f"/users/{user_id}/deactivate", None)

    winner_key, winner = one_winner(answers, 200, "already_done")
    assert winner.json()["status"] == "deactivated"
    keys = [k for k, _ in answers]
    assert ok_audits(services, "deactivate_user", keys) == [winner_key]
    assert recorded_keys(services, keys) == [winner_key]
