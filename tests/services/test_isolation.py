"""Nothing of another account crosses over: not in an invitation's answer, nor a probe's timing.

Invitations: an address that belongs to someone outside the account (another
account's user, a vendor employee) is answered exactly as a brand-new address is;
only the account's own people are named.

Probes: another account's object is answered like a missing one byte for byte, and
without waiting for the probe's audit row, which is written after the answer (the
tests hold the audit table locked: the answers still come at once, and the rows
appear once it is released, also when the services are stopped in between). How
long each answer takes is measured by `bench/probe_timing.py`, not asserted here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    RunningServices,
    _admin,
    postgres_available,
    start_services,
    stop_services,
)

ACME, GLOBEX = "Acme Corporation", "Globex México"
ANA = "ana.admin@acme.example"
DIEGO = "diego.admin@globex.example"
LENA = "lena.buyer@initech.example"
ANSWER_WITHIN = 10.0  # seconds; an answer waiting for a held audit table would take far longer


# --- invitations ---------------------------------------------------------------------------

OUTSIDERS = {
    "another account's user": "lena.buyer@initech.example",
    "a home account's user": "hannah@home.example",
    "a vendor employee": "sam.agent@vendor.example",
}


def invite(services: Any, email: str, role: str = "shopper", **extra: str) -> httpx.Response:
    with services.client(ANA, ACME) as client:
        return client.post(
            "/users/invitations",
            headers={"Idempotency-Key": f"isolation-{uuid.uuid4()}"},
            json={"email": email, "role": role, **extra},
        )


def real_name(services: Any, email: str) -> str:
    with Session(services.engine) as session:
        return str(session.scalar(select(m.User.name).filter_by(email=email)))


@pytest.fixture
def invited(services: Any) -> Iterator[List[str]]:
    """Addresses a test invites to Acme; their Acme memberships (and new users) go afterwards."""
    emails: List[str] = []
    with Session(services.engine) as session:
        before = {
            ms.id
            for ms in session.scalars(
                select(m.Membership).filter_by(account_id=services.account_id(ACME))
            )
        }
    yield emails
    with Session(services.engine) as session, session.begin():
        users = session.scalars(select(m.User).where(m.User.email.in_(emails))).all()
        for user in users:
            session.execute(
                delete(m.Membership).where(
                    m.Membership.user_id == user.id,
                    m.Membership.account_id == services.account_id(ACME),
                    m.Membership.id.not_in(before),
                )
            )
            if user.status == "invited" and not session.scalar(
                select(func.count()).select_from(m.Membership).filter_by(user_id=user.id)
            ):
                session.delete(user)


def shape(body: Dict[str, Any]) -> Dict[str, str]:
    return {key: type(value).__name__ for key, value in body.items()}


@pytest.mark.parametrize("who", list(OUTSIDERS))
@pytest.mark.parametrize("name", [None, "Pat Example"])
def test_inviting_someone_outside_the_account_is_answered_as_a_new_address(
    services, invited, who, name
):
    outsider = OUTSIDERS[who]
    new = f"new-{uuid.uuid4().hex[:10]}@acme.example"
    invited.extend([new, outsider])
    extra = {"name": name} if name else {}

    fresh = invite(services, new, **extra)
    theirs = invite(services, outsider, **extra)

    assert fresh.status_code == theirs.status_code == 201, (fresh.text, theirs.text)
    assert fresh.headers["content-type"] == theirs.headers["content-type"]
    assert shape(fresh.json()) == shape(theirs.json())
    for response, email in ((fresh, new), (theirs, outsider)):
        body = response.json()
        assert body["email"] == email
        assert body["name"] == (name or email.split("@")[0]), "named only as the inviter named"
        assert (body["role"], body["status"], body["replayed"]) == ("shopper", "invited", False)
    assert real_name(services, outsider) not in theirs.text

    with services.client(ANA, ACME) as client:
        listed = {u["email"]: u for u in client.get("/users").json()}
    assert listed[outsider]["name"] == outsider.split("@")[0], "the list does not name them"
    assert listed[outsider]["status"] == "invited"
    assert real_name(services, outsider) not in str(listed)


def test_the_accounts_own_people_are_named(services, invited):
    member = invite(services, "BEN.BUYER@acme.example", role="buyer")
    assert member.status_code == 409, member.text
    assert member.json()["error"]["reason"] == "already_member"

    # Eve is Acme's technical account manager at the vendor (Acme's account-team page shows
    # her): the answer says so rather than calling her one of Acme's users.
    team = invite(services, "eve.rep@vendor.example", role="buyer")
    assert team.status_code == 409, team.text
    error = team.json()["error"]
    assert error["reason"] == "account_team"
    assert "already a user" not in error["message"]
    with services.client(ANA, ACME) as client:
        page = client.get("/account-team").json()
    assert "eve.rep@vendor.example" in {contact["email"] for contact in page}


# --- probes ----------------------------------------------------------------------------------


@dataclass
class Probe:
    email: str
    account: str
    method: str
    path: str  # "{id}" where the identifier goes
    foreign_id: Callable[[Any], str]
    missing_id: str
    capability: str
    body: Optional[Callable[[Any], Dict[str, Any]]] = None

    def send(self, services: Any, object_id: str) -> httpx.Response:
        headers = services.headers(self.email, self.account)
        if self.method != "GET":
            headers["Idempotency-Key"] = f"isolation-{uuid.uuid4()}"
        with httpx.Client(base_url=services.base_url, timeout=ANSWER_WITHIN) as client:
            return client.request(
                self.method,
                self.path.format(id=object_id),
                headers=headers,
                json=self.body(services) if self.body else None,
            )


def _acme_card(services: Any) -> Dict[str, Any]:
    with Session(services.engine) as session:
        card = session.scalar(
            select(m.PaymentMethod.id)
            .filter_by(account_id=services.account_id(ACME))
            .order_by(m.PaymentMethod.id)
        )
    return {"payment_method_id": card}


PROBES = {
    "invoice": Probe(
        ANA,
        ACME,
        "GET",
        "/invoices/{id}",
        lambda sv: "INV-20000001",
        "INV-29999999",
        "invoice_details",
    ),
    "device": Probe(
        DIEGO,
        GLOBEX,
        "GET",
        "/devices/{id}",
        lambda sv: "7XK2M93",
        "ZZ9ZZ99",
        "check_warranty",
    ),
    "payment": Probe(
        ANA,
        ACME,
        "POST",
        "/invoices/{id}/payments",
        lambda sv: "INV-30000002",
        "INV-39999999",
        "pay_invoice",
        body=_acme_card,
    ),
    "user": Probe(
        ANA,
        ACME,
        "PATCH",
        "/users/{id}",
        lambda sv: str(sv.user_id(LENA)),
        "2000000000",
        "change_user_role",
        body=lambda sv: {"role": "shopper"},
    ),
}


@contextlib.contextmanager
def audit_table_held(services: RunningServices) -> Iterator[None]:
    """Nobody can add an audit row while this is open (the services' own writer included)."""
    if services.backend == "postgresql":
        connection = services.engine.connect()
        transaction = connection.begin()
        connection.execute(text("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()
            connection.close()
        return
    database = make_url(services.database_url).database
    holder = sqlite3.connect(database, timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # SQLite's one write lock: no row goes in anywhere
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def last_audit_id(services: Any) -> int:
    with Session(services.engine) as session:
        return int(session.scalar(select(func.coalesce(func.max(m.AuditEvent.id), 0))))


def audit_rows_after(services: Any, after: int, *, at_least: int) -> List[m.AuditEvent]:
    deadline = time.monotonic() + 30
    while True:
        with Session(services.engine) as session:
            rows = list(
                session.scalars(
                    select(m.AuditEvent).where(m.AuditEvent.id > after).order_by(m.AuditEvent.id)
                )
            )
        if len(rows) >= at_least or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def headers_but_date(response: httpx.Response) -> Dict[str, str]:
    """The headers that do not vary by themselves (the length follows the id's own length;
    every answer has its own request id)."""
    varying = ("date", "content-length", "x-request-id")
    return {k: v for k, v in response.headers.items() if k.lower() not in varying}


def masked(response: httpx.Response, object_id: str) -> bytes:
    return response.content.replace(object_id.encode(), b"<ID>")


def test_a_probe_is_answered_at_once_like_a_miss_and_audited_after(services):
    mark = last_audit_id(services)
    answers = []
    with audit_table_held(services):
        for name, probe in PROBES.items():
            foreign_id = probe.foreign_id(services)
            # A request that waited for its audit row would not come back within the timeout.
            foreign = probe.send(services, foreign_id)
            missing = probe.send(services, probe.missing_id)
            answers.append((name, foreign_id, foreign, missing))
        assert last_audit_id(services) == mark, "no row can be written while the table is held"

    for name, foreign_id, foreign, missing in answers:
        assert foreign.status_code == missing.status_code == 404, (name, foreign.text)
        assert masked(foreign, foreign_id) == masked(missing, PROBES[name].missing_id), name
        assert headers_but_date(foreign) == headers_but_date(missing), name
        if len(foreign_id) == len(PROBES[name].missing_id):
            assert foreign.headers["content-length"] == missing.headers["content-length"]

    rows = audit_rows_after(services, mark, at_least=len(answers))
    assert [(e.action, e.outcome) for e in rows] == [
        (f"probe:{PROBES[name].capability}", "not_found") for name, *_ in answers
    ], "each probe audited once, a miss never"
    for event, (name, foreign_id, *_rest) in zip(rows, answers, strict=True):
        probe = PROBES[name]
        assert foreign_id in event.target
        assert (event.email, event.account_id, event.channel) == (
            probe.email,
            services.account_id(probe.account),
            "api",  # called straight, not through a chat channel
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_services(request: pytest.FixtureRequest, tmp_path) -> Iterator[RunningServices]:
    """A services process of this test's own, which the test stops."""
    if request.param == "sqlite":
        running = start_services("sqlite", f"sqlite:///{tmp_path / 'premier.db'}")
        yield running
        stop_services(running)
        return
    problem = postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI. {problem}")
        pytest.skip(problem)
    name = f"premier_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    running = start_services("postgresql", url)
    try:
        yield running
    finally:
        stop_services(running)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_probe_rows_still_queued_at_shutdown_are_written_before_the_services_exit(own_services):
    probe = PROBES["invoice"]
    mark = last_audit_id(own_services)
    sent = 5
    with audit_table_held(own_services):
        for _ in range(sent):
            assert probe.send(own_services, probe.foreign_id(own_services)).status_code == 404
        own_services.process.terminate()
        time.sleep(1.0)
        assert own_services.process.poll() is None, "the services wait for their audit rows"
    # uvicorn re-raises the signal once it has shut down cleanly
    assert own_services.process.wait(timeout=60) in (0, -signal.SIGTERM)

    rows = audit_rows_after(own_services, mark, at_least=sent)
    assert [(e.action, e.target) for e in rows] == [
        ("probe:invoice_details", "invoice INV-20000001")
    ] * sent
