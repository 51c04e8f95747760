"""The handoff desk over real HTTP, on each backend: queue, claims, transcript, grant, audit.

Most tests use the shared `services` (SQLite and PostgreSQL); the queue arithmetic and
the lazy requeue use a services process of their own on SQLite, started with a grace of
one second and a known average handling time, so its queue holds only their handoffs.
Rows the tests add to the shared demo world are deleted when the module ends.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.services import models as m
from bot.services import schemas as s
from tests.conftest import start_services, stop_services

BEN = "ben.buyer@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
EVE = "eve.rep@vendor.example"
SAM = "sam.agent@vendor.example"
ACME, GLOBEX = "Acme Corporation", "Globex México"
CARD = "4111 1111 1111 1111"
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLXZhbHVl"
GRACE_SECONDS = 1
AVERAGE_SECONDS = 100


def client(
    services: Any, email: str, account: Optional[str] = None, **headers: str
) -> httpx.Client:
    auth = {"Authorization": f"Bearer {services.token(email, account)}"}
    return httpx.Client(base_url=services.base_url, headers={**auth, **headers}, timeout=60)


def opening(conversation: Optional[str] = None, **changes: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = {
        "conversation_id": conversation or f"conv-{uuid.uuid4().hex}",
        "channel": "widget",
        "language": "en",
        "reason": "asked",
        "topic": "pay_invoice",
        "slots": {"invoice_number": "INV-10000001", "card": CARD, "amount": 12.5, "ok": True},
        "transcript": [
            {"who": "customer", "text": f"my card is {CARD}", "at": "2026-01-05T10:00:00Z"},
            {
                "who": "assistant",
                "text": "I cannot take card numbers.",
                "at": "2026-01-05T10:00:01",
            },
            {"who": "customer", "text": f"token {JWT} help", "at": "2026-01-05T10:00:02+01:00"},
        ],
    }
    body.update(changes)
    return body


def line(**changes: Any) -> Dict[str, Any]:
    return {"who": "customer", "text": "hello", "at": "2026-01-01T00:00:00", **changes}


def open_handoff(services: Any, email: str = BEN, **changes: Any) -> Dict[str, Any]:
    with client(services, email) as person:
        response = person.post("/handoffs", json=opening(**changes))
    assert response.status_code == 201, response.text
    return dict(response.json())


def handoff_row(services: Any, handoff_id: int) -> m.Handoff:
    with Session(services.engine, expire_on_commit=False) as session:
        found = session.get(m.Handoff, handoff_id)
        assert found is not None
        return found


def transcript(services: Any, handoff_id: int) -> List[Tuple[str, str]]:
    with Session(services.engine) as session:
        rows = session.scalars(
            select(m.HandoffMessage).filter_by(handoff_id=handoff_id).order_by(m.HandoffMessage.id)
        )
        return [(row.who, row.text) for row in rows]


def claim(services: Any, handoff_id: int, email: str = SAM, **headers: str) -> httpx.Response:
    with client(services, email, **headers) as agent:
        return agent.post(f"/desk/handoffs/{handoff_id}/claim")


@pytest.fixture(scope="module")
def world(services: Any) -> Iterator[None]:
    """Delete what the module adds to the shared demo world: handoffs, requests, an agent."""
    with Session(services.engine) as session:
        before = {
            model: session.scalar(select(func.coalesce(func.max(model.id), 0)))
            for model in (m.HandoffMessage, m.Handoff, m.ServiceRequest, m.User)
        }
    yield
    with Session(services.engine) as session, session.begin():
        for model in (m.HandoffMessage, m.Handoff, m.ServiceRequest, m.User):
            session.execute(delete(model).where(model.id > before[model]))


@pytest.fixture(scope="module")
def second_agent(services: Any, world: None) -> str:
    """Another support agent, for claims that race."""
    email = f"rita.{uuid.uuid4().hex[:6]}@vendor.example"
    with Session(services.engine) as session, session.begin():
        session.add(m.User(email=email, name="Rita Quispe", staff_role="support_agent"))
    return email


@pytest.fixture(scope="module")
def quick_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A services process of its own: a one-second grace, a known average handling time."""
    path = tmp_path_factory.mktemp("desk") / "desk.db"
    running = start_services(
        "sqlite",
        f"sqlite:///{path}",
        overrides={
            "HANDOFF_AGENT_GRACE_SECONDS": str(GRACE_SECONDS),
            "HANDOFF_AVERAGE_SECONDS": str(AVERAGE_SECONDS),
        },
    )
    yield running
    stop_services(running)


# --- opening ----------------------------------------------------------------------------------


def test_opening_stores_a_masked_transcript(services, world, audit_rows):
    since = audit_rows.mark()
    body = opening()
    with client(services, BEN) as ben:
        response = ben.post("/handoffs", json=body)
        assert response.status_code == 201, response.text
        status = response.json()
        assert (status["state"], status["version"], status["language"]) == ("waiting", 1, "en")
        assert status["position"] >= 1
        assert status["expected_wait_seconds"] > 0
        assert status["agent_name"] is None

        again = ben.post("/handoffs", json={**body, "transcript": []})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == status["id"]

    row = handoff_row(services, status["id"])
    assert (row.role, row.channel, row.reason, row.topic) == (
        "buyer",
        "widget",
        "asked",
        "pay_invoice",
    )
    assert row.account_id == services.account_id(ACME)
    assert row.user_id == services.user_id(BEN)
    assert row.slots == {
        "invoice_number": "INV-10000001",
        "card": "•••• 1111",
        "amount": 12.5,
        "ok": True,
    }
    lines = transcript(services, status["id"])
    assert lines == [
        ("customer", "my card is •••• 1111"),
        ("assistant", "I cannot take card numbers."),
        ("customer", "token [token removed] help"),
    ]
    assert all(CARD not in text and JWT not in text for _, text in lines)
    with Session(services.engine) as session:
        ats = list(
            session.scalars(
                select(m.HandoffMessage.at)
                .filter_by(handoff_id=status["id"])
                .order_by(m.HandoffMessage.id)
            )
        )
    assert ats[2] == dt.datetime(2026, 1, 5, 9, 0, 2), "stored as UTC"
    assert audit_rows(
        after=since, expect=1, action="request_human", user_id=services.user_id(BEN), outcome="ok"
    )


def test_an_idempotency_key_replays_the_opening(services, world):
    body = opening()
    key = f"handoff-{uuid.uuid4().hex}"
    with client(services, BEN, **{s.IDEMPOTENCY_HEADER: key}) as ben:
        first = ben.post("/handoffs", json=body)
        second = ben.post("/handoffs", json=body)
    assert first.status_code == 201, first.text
    assert second.status_code in (200, 201), second.text
    assert second.json()["id"] == first.json()["id"]
    with Session(services.engine) as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(m.Handoff)
                .filter_by(conversation_id=body["conversation_id"])
            )
            == 1
        )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"channel": "email"}, id="channel"),
        pytest.param({"reason": "bored"}, id="reason"),
        pytest.param({"slots": {f"s{i}": i for i in range(51)}}, id="too-many-slots"),
        pytest.param({"slots": {"a": [1]}}, id="slot-list"),
        pytest.param({"transcript": [line(who="agent")]}, id="who"),
        pytest.param({"transcript": [line(at=1767225600)]}, id="at-number"),
        pytest.param({"transcript": [line(at="yesterday")]}, id="at-words"),
        pytest.param({"transcript": [line(text="x" * 2001)]}, id="long"),
        pytest.param({"transcript": [line()] * 201}, id="too-many-lines"),
        pytest.param({"conversation_id": 7}, id="conversation-number"),
        pytest.param({"extra": 1}, id="unknown-field"),
    ],
)
def test_bad_openings_are_refused(services, world, change):
    with client(services, BEN) as ben:
        response = ben.post("/handoffs", json=opening(**change))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


# --- the queue's arithmetic (a desk of its own) --------------------------------------------------


def test_position_and_expected_wait(quick_desk):
    first = open_handoff(quick_desk, BEN)
    second = open_handoff(quick_desk, SARA)
    assert (first["position"], second["position"]) == (1, 2)
    assert (first["expected_wait_seconds"], second["expected_wait_seconds"]) == (
        AVERAGE_SECONDS,
        2 * AVERAGE_SECONDS,
    )
    with client(quick_desk, SAM) as sam:
        queue = sam.get("/desk/queue").json()
    assert [h["id"] for h in queue["waiting"]] == [first["id"], second["id"]]
    assert [h["position"] for h in queue["waiting"]] == [1, 2]
    assert queue["waiting"][0]["account_name"] == ACME
    assert queue["waiting"][1]["role"] == "shopper"

    # Five closed handoffs: from now on the median of their handling times is the step.
    now = m.utcnow()
    with Session(quick_desk.engine) as session, session.begin():
        base = session.get(m.Handoff, first["id"])
        assert base is not None
        for minutes in (2, 4, 6, 8, 10):
            session.add(
                m.Handoff(
                    account_id=base.account_id,
                    user_id=base.user_id,
                    role="buyer",
                    conversation_id=f"closed-{minutes}",
                    channel="widget",
                    language="en",
                    reason="asked",
                    slots={},
                    state="closed",
                    version=3,
                    claimed_at=now - dt.timedelta(minutes=minutes),
                    closed_at=now,
                    outcome="resolved",
                    created_at=now - dt.timedelta(minutes=minutes + 1),
                )
            )
    with client(quick_desk, SARA) as sara:
        status = sara.get(f"/handoffs/{second['id']}").json()
    assert status["position"] == 2
    assert status["expected_wait_seconds"] == 2 * 6 * 60


def test_a_silent_console_agent_loses_the_handoff(quick_desk):
    opened = open_handoff(quick_desk, BEN)
    claimed = claim(quick_desk, opened["id"])
    assert claimed.status_code == 200, claimed.text
    with client(quick_desk, BEN) as ben:
        held = ben.get(f"/handoffs/{opened['id']}").json()
        assert (held["state"], held["agent_name"], held["position"]) == ("claimed", "Sam", None)
        time.sleep(GRACE_SECONDS + 1.2)
        back = ben.get(f"/handoffs/{opened['id']}").json()
    assert back["state"] == "waiting"
    assert back["version"] == held["version"] + 1
    assert back["agent_name"] is None and back["position"] >= 1
    row = handoff_row(quick_desk, opened["id"])
    assert (row.agent_id, row.agent_channel, row.claimed_at) == (None, None, None)
    assert transcript(quick_desk, opened["id"])[-1] == ("system", "agent left")
    with Session(quick_desk.engine) as session:
        events = session.scalar(
            select(func.count())
            .select_from(m.AuditEvent)
            .filter_by(action="handoff_requeue", target=f"handoff {opened['id']}")
        )
    assert events == 1
    with client(quick_desk, SAM) as sam:
        refused = sam.get(f"/desk/handoffs/{opened['id']}")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_your_handoff"


def test_a_heartbeat_keeps_the_claim(quick_desk):
    opened = open_handoff(quick_desk, BEN)
    assert claim(quick_desk, opened["id"]).status_code == 200
    with client(quick_desk, SAM) as sam:
        for _ in range(4):
            time.sleep(GRACE_SECONDS / 2)
            assert sam.get("/desk/queue").status_code == 200
        mine = sam.get("/desk/queue").json()["mine"]
    assert opened["id"] in [h["id"] for h in mine]
    assert handoff_row(quick_desk, opened["id"]).state == "claimed"


def test_a_slack_claim_is_not_requeued(quick_desk):
    opened = open_handoff(quick_desk, BEN)
    claimed = claim(quick_desk, opened["id"], **{s.CHANNEL_HEADER: "slack"})
    assert claimed.status_code == 200, claimed.text
    time.sleep(GRACE_SECONDS + 1.2)
    with client(quick_desk, BEN) as ben:
        assert ben.get(f"/handoffs/{opened['id']}").json()["state"] == "claimed"
    assert handoff_row(quick_desk, opened["id"]).agent_channel == "slack"


# --- claims ------------------------------------------------------------------------------------


def test_concurrent_claims_have_exactly_one_winner(services, world, second_agent, audit_rows):
    since = audit_rows.mark()
    agents = [SAM, second_agent]
    names = {SAM: "Sam Ortiz", second_agent: "Rita Quispe"}
    for _ in range(3):
        opened = open_handoff(services)
        start = threading.Barrier(len(agents))

        def one(
            email: str, handoff_id: int = opened["id"], start: Any = start
        ) -> Tuple[str, httpx.Response]:
            with client(services, email) as agent:
                start.wait(timeout=30)
                return email, agent.post(f"/desk/handoffs/{handoff_id}/claim")

        with ThreadPoolExecutor(len(agents)) as pool:
            results = list(pool.map(one, agents))
        won = [email for email, r in results if r.status_code == 200]
        lost = [(email, r) for email, r in results if r.status_code != 200]
        assert len(won) == 1, [(e, r.status_code, r.text) for e, r in results]
        assert len(lost) == 1
        loser_response = lost[0][1]
        assert loser_response.status_code == 409, loser_response.text
        error = loser_response.json()["error"]
        assert error["code"] == "already_claimed"
        assert error["claimed_by"] == names[won[0]]
        row = handoff_row(services, opened["id"])
        assert (row.state, row.agent_id, row.version) == ("claimed", services.user_id(won[0]), 2)
        assert transcript(services, opened["id"]).count(("system", "agent joined")) == 1
        assert (
            len(
                audit_rows(
                    after=since, expect=1, action="handoff_claim", target=f"handoff {opened['id']}"
                )
            )
            == 1
        )
        with client(services, won[0]) as winner:  # claiming again is harmless
            assert winner.post(f"/desk/handoffs/{opened['id']}/claim").status_code == 200


def test_desk_conversation_and_close(services, world, second_agent, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    assert claim(services, hid).status_code == 200
    with client(services, BEN) as ben, client(services, SAM) as sam:
        said = ben.post(f"/handoffs/{hid}/messages", json={"text": f"card {CARD} declined"})
        assert said.status_code == 201, said.text
        assert said.json()["who"] == "customer" and said.json()["text"] == "card •••• 1111 declined"
        reply = sam.post(f"/desk/handoffs/{hid}/messages", json={"text": "Let me look."})
        assert reply.status_code == 201, reply.text
        assert (reply.json()["who"], reply.json()["author"]) == ("agent", "Sam")

        detail = sam.get(f"/desk/handoffs/{hid}").json()
        assert (detail["account_name"], detail["country"], detail["role"]) == (ACME, "US", "buyer")
        assert detail["slots"]["card"] == "•••• 1111"
        whos = [line["who"] for line in detail["messages"]]
        assert whos == ["customer", "assistant", "customer", "system", "customer", "agent"]

        with client(services, second_agent) as rita:
            other = rita.get(f"/desk/handoffs/{hid}")
            assert other.status_code == 403 and other.json()["error"]["code"] == "not_your_handoff"
            assert (
                rita.post(f"/desk/handoffs/{hid}/messages", json={"text": "hi"}).status_code == 403
            )
            assert (
                rita.post(f"/desk/handoffs/{hid}/close", json={"outcome": "resolved"}).status_code
                == 403
            )

        closed = sam.post(
            f"/desk/handoffs/{hid}/close", json={"outcome": "resolved", "note": f"card {CARD}"}
        )
        assert closed.status_code == 200, closed.text
        assert (closed.json()["state"], closed.json()["outcome"]) == ("closed", "resolved")
        assert closed.json()["note"] == "card •••• 1111"

        status = ben.get(f"/handoffs/{hid}").json()
        assert (status["state"], status["outcome"], status["position"]) == (
            "closed",
            "resolved",
            None,
        )
        assert status["closed_at"] is not None
        late = ben.post(f"/handoffs/{hid}/messages", json={"text": "hello?"})
        assert late.status_code == 409 and late.json()["error"]["code"] == "handoff_not_open"
        assert ben.get("/handoffs/current", params={"conversation_id": "nope"}).status_code == 404
        assert sam.post(f"/desk/handoffs/{hid}/claim").json()["error"]["code"] == "handoff_not_open"
    assert handoff_row(services, hid).note == "card •••• 1111"
    assert audit_rows(after=since, expect=1, action="handoff_close", target=f"handoff {hid}")


def test_release_puts_it_back(services, world, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    assert claim(services, hid).status_code == 200
    with client(services, SAM) as sam:
        released = sam.post(f"/desk/handoffs/{hid}/release")
        assert released.status_code == 200, released.text
        assert released.json()["state"] == "waiting"
        assert hid in [h["id"] for h in sam.get("/desk/queue").json()["waiting"]]
        again = sam.post(f"/desk/handoffs/{hid}/release")
        assert again.status_code == 403 and again.json()["error"]["code"] == "not_your_handoff"
    assert handoff_row(services, hid).version == 3
    assert audit_rows(after=since, expect=1, action="handoff_release", target=f"handoff {hid}")


# --- the customer's other ways out ---------------------------------------------------------------


def test_cancel(services, world, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    with client(services, BEN) as ben:
        conversation = handoff_row(services, hid).conversation_id
        current = ben.get("/handoffs/current", params={"conversation_id": conversation})
        assert current.status_code == 200 and current.json()["id"] == hid
        cancelled = ben.post(f"/handoffs/{hid}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert (cancelled.json()["state"], cancelled.json()["version"]) == ("cancelled", 2)
        missing = ben.get("/handoffs/current", params={"conversation_id": conversation})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        twice = ben.post(f"/handoffs/{hid}/cancel")
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "handoff_not_open"
        assert ben.post(f"/handoffs/{hid}/messages", json={"text": "hi"}).status_code == 409
        reopened = ben.post("/handoffs", json=opening(conversation))
        assert reopened.status_code == 201 and reopened.json()["id"] != hid
    assert claim(services, hid).json()["error"]["code"] == "handoff_not_open"
    assert audit_rows(after=since, expect=1, action="handoff_cancel", target=f"handoff {hid}")


def test_convert_to_a_service_request(services, world, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    with client(services, BEN) as ben:
        converted = ben.post(f"/handoffs/{hid}/service-request")
        assert converted.status_code == 201, converted.text
        number = converted.json()["number"]
        assert ben.get(f"/handoffs/{hid}").json()["state"] == "converted"
        listed = ben.get(f"/service-requests/{number}")
        assert listed.status_code == 200, listed.text
        again = ben.post(f"/handoffs/{hid}/service-request")
        assert again.status_code == 409 and again.json()["error"]["code"] == "handoff_not_open"
    with Session(services.engine) as session:
        request = session.scalar(select(m.ServiceRequest).filter_by(number=number))
        assert request is not None
        assert request.account_id == services.account_id(ACME)
        assert request.opened_by_id == services.user_id(BEN)
        assert "my card is •••• 1111" in request.description
        assert "I cannot take card numbers." in request.description
        assert CARD not in request.description and JWT not in request.description
    assert claim(services, hid).status_code == 409
    assert audit_rows(after=since, expect=1, action="handoff_convert", target=f"handoff {hid}")


def test_a_claimed_handoff_cannot_be_converted(services, world):
    opened = open_handoff(services)
    assert claim(services, opened["id"]).status_code == 200
    with client(services, BEN) as ben:
        refused = ben.post(f"/handoffs/{opened['id']}/service-request")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "handoff_not_open"
    with client(services, SAM) as sam:
        sam.post(f"/desk/handoffs/{opened['id']}/close", json={"outcome": "unresolved"})


# --- who may see what ----------------------------------------------------------------------------


def test_nobody_reads_another_persons_handoff(services, world, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    with client(services, SARA) as sara:
        for method, path, body in (
            ("GET", f"/handoffs/{hid}", None),
            ("POST", f"/handoffs/{hid}/messages", {"text": "hi"}),
            ("POST", f"/handoffs/{hid}/cancel", None),
            ("POST", f"/handoffs/{hid}/service-request", None),
        ):
            response = sara.request(method, path, json=body)
            assert response.status_code == 404, response.text
            assert response.json()["error"]["code"] == "not_found"
    assert handoff_row(services, hid).state == "waiting"
    assert audit_rows(
        after=since, expect=4, action="probe:request_human", user_id=services.user_id(SARA)
    )


@pytest.mark.parametrize(
    "email, method, path",
    [
        pytest.param(BEN, "GET", "/desk/queue", id="customer-queue"),
        pytest.param(EVE, "GET", "/desk/queue", id="account-team-queue"),
        pytest.param(BEN, "POST", "/desk/handoffs/1/claim", id="customer-claim"),
        pytest.param(SAM, "POST", "/handoffs", id="agent-opens"),
        pytest.param(EVE, "GET", "/handoffs/1", id="account-team-reads"),
    ],
)
def test_the_desk_and_the_customer_side_keep_to_their_roles(services, world, email, method, path):
    body = opening() if path == "/handoffs" else None
    with client(services, email) as person:
        response = person.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


def test_the_grant(services, world, audit_rows):
    since = audit_rows.mark()
    opened = open_handoff(services)
    hid = opened["id"]
    globex = open_handoff(services, DIEGO)
    grant = {s.HANDOFF_HEADER: str(hid)}
    with client(services, BEN) as ben:
        own_invoices = ben.get("/invoices").json()
        own_orders = ben.get("/orders").json()

    with client(services, SAM) as sam:
        before = sam.get("/invoices", headers=grant)  # not claimed yet
        assert before.status_code == 403 and before.json()["error"]["code"] == "no_handoff_grant"
        assert claim(services, hid).status_code == 200

        invoices = sam.get("/invoices", headers=grant)
        assert invoices.status_code == 200, invoices.text
        assert invoices.json() == own_invoices
        orders = sam.get("/orders", headers=grant)
        assert orders.status_code == 200 and orders.json() == own_orders
        assert sam.get("/devices", headers=grant).status_code == 200

        # Writes stay refused: the grant is the vendor's read-only view.
        reorder = sam.post(
            "/cart/reorder",
            json={"order_number": own_orders[0]["number"]},
            headers={**grant, s.IDEMPOTENCY_HEADER: f"grant-{uuid.uuid4().hex}"},
        )
        assert reorder.status_code == 403, reorder.text
        assert reorder.json()["error"]["reason"] == "role"

        # Without the header, a support agent holds no account data.
        plain = sam.get("/invoices")
        assert plain.status_code == 403 and plain.json()["error"]["code"] == "forbidden"

        # Another account's handoff, not held: refused.
        other = sam.get("/invoices", headers={s.HANDOFF_HEADER: str(globex["id"])})
        assert other.status_code == 403 and other.json()["error"]["code"] == "no_handoff_grant"

        closed = sam.post(f"/desk/handoffs/{hid}/close", json={"outcome": "resolved"})
        assert closed.status_code == 200
        after = sam.get("/invoices", headers=grant)
        assert after.status_code == 403 and after.json()["error"]["code"] == "no_handoff_grant"
        bad = sam.get("/invoices", headers={s.HANDOFF_HEADER: "one"})
        assert bad.status_code == 401

    with client(services, BEN, **grant) as ben:  # only support agents hold grants
        refused = ben.get("/invoices")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_handoff_grant"

    sam_id = services.user_id(SAM)
    admitted = audit_rows(
        after=since, expect=3, action="handoff_access", user_id=sam_id, outcome="ok"
    )
    mine = [row for row in admitted if row.detail.get("handoff_id") == hid]
    assert [row.detail["capability"] for row in mine] == [
        "show_invoices",
        "list_recent_orders",
        "list_devices",
    ]
    assert all(row.account_id == services.account_id(ACME) for row in mine)
    assert all(row.role == "support_agent" for row in mine)
    denied = [
        row
        for row in audit_rows(
            after=since, expect=4, action="handoff_access", user_id=sam_id, outcome="denied"
        )
        if row.detail.get("handoff_id") in (hid, globex["id"])
    ]
    assert len(denied) == 4  # before the claim, the write, the other account's, after close
    assert any(row.detail.get("capability") == "reorder" for row in denied)
