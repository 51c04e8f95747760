"""The typed client's handoff calls against the real services: both sides and the grant."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.client import AccountServices, errors
from bot.services import models as m
from bot.services import schemas as s

BEN = "ben.buyer@acme.example"
SAM = "sam.agent@vendor.example"
CARD = "4111 1111 1111 1111"


@pytest.fixture
async def client(services: Any) -> AsyncIterator[AccountServices]:
    async with AccountServices(services.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def cleanup(services: Any) -> Iterator[None]:
    """Delete the handoffs, service requests and the extra agent this module adds."""
    models = (m.HandoffMessage, m.Handoff, m.ServiceRequest, m.User)
    with Session(services.engine) as session:
        before = {
            model: session.scalar(select(func.coalesce(func.max(model.id), 0))) for model in models
        }
    yield
    with Session(services.engine) as session, session.begin():
        for model in models:
            session.execute(delete(model).where(model.id > before[model]))


@pytest.fixture(scope="module")
def rita(services: Any, cleanup: None) -> str:
    email = f"rita.{uuid.uuid4().hex[:6]}@vendor.example"
    with Session(services.engine) as session, session.begin():
        session.add(m.User(email=email, name="Rita Quispe", staff_role="support_agent"))
    return email


async def _open(services: Any, client: AccountServices) -> s.HandoffStatus:
    ben = client.as_user(services.token(BEN))
    return await ben.open_handoff(
        f"conv-{uuid.uuid4().hex}",
        channel="portal",
        language="es",
        reason="not_understood",
        topic="order_status",
        slots={"order_number": "100000001"},
        transcript=[
            {"who": "customer", "text": f"tarjeta {CARD}", "at": dt.datetime(2026, 1, 5, 10)},
            {"who": "assistant", "text": "No entendí.", "at": "2026-01-05T10:00:01Z"},
        ],
    )


async def test_the_customer_side(services, client, cleanup):
    ben = client.as_user(services.token(BEN))
    opened = await _open(services, client)
    assert isinstance(opened, s.HandoffStatus)
    assert (opened.state, opened.language, opened.version) == ("waiting", "es", 1)
    assert opened.position is not None and opened.expected_wait_seconds is not None
    with Session(services.engine) as session:
        conversation = session.scalar(select(m.Handoff.conversation_id).filter_by(id=opened.id))
    current = await ben.current_handoff(conversation)
    assert current is not None and current.id == opened.id
    assert await ben.current_handoff("no-such-conversation") is None
    said = await ben.handoff_message(opened.id, f"mi tarjeta {CARD}")
    assert (said.who, said.text) == ("customer", "mi tarjeta •••• 1111")
    cancelled = await ben.cancel_handoff(opened.id)
    assert cancelled.state == "cancelled"
    assert (await ben.handoff(opened.id)).state == "cancelled"
    with pytest.raises(errors.Conflict) as refused:
        await ben.handoff_message(opened.id, "¿hola?")
    assert refused.value.code == "handoff_not_open"


async def test_converting_opens_a_service_request(services, client, cleanup):
    ben = client.as_user(services.token(BEN))
    opened = await _open(services, client)
    created = await ben.handoff_service_request(opened.id)
    assert isinstance(created, s.CreatedServiceRequest)
    assert "tarjeta •••• 1111" in created.description
    assert (await ben.service_request(created.number)).number == created.number
    assert (await ben.handoff(opened.id)).state == "converted"


async def test_the_desk_side_and_the_grant(services, client, rita):
    opened = await _open(services, client)
    sam = client.as_user(services.token(SAM))
    queue = await sam.desk_queue()
    assert isinstance(queue, s.DeskQueue)
    assert opened.id in [h.id for h in queue.waiting]

    detail = await sam.claim_handoff(opened.id)
    assert isinstance(detail, s.HandoffDetail)
    assert (detail.state, detail.agent_name, detail.language) == ("claimed", "Sam Ortiz", "es")
    with pytest.raises(errors.AlreadyClaimed) as lost:
        await client.as_user(services.token(rita)).claim_handoff(opened.id)
    assert lost.value.claimed_by == "Sam Ortiz"
    assert lost.value.code == "already_claimed"

    reply = await sam.desk_say(opened.id, "Hola, soy Sam.")
    assert (reply.who, reply.author) == ("agent", "Sam")
    held = await sam.desk_handoff(opened.id)
    assert [line.who for line in held.messages][-1] == "agent"

    granted = client.as_user(services.token(SAM), handoff=opened.id)
    orders = await granted.recent_orders(days=3650)
    own = await client.as_user(services.token(BEN)).recent_orders(days=3650)
    assert [o.number for o in orders] == [o.number for o in own]
    with pytest.raises(errors.Forbidden):
        await sam.recent_orders()

    released = await sam.release_handoff(opened.id)
    assert released.state == "waiting"
    await sam.claim_handoff(opened.id)
    closed = await sam.close_handoff(opened.id, "resolved", note="listo")
    assert (closed.state, closed.outcome, closed.note) == ("closed", "resolved", "listo")
    with pytest.raises(errors.Forbidden) as ended:
        await granted.recent_orders()
    assert ended.value.code == "no_handoff_grant"


async def test_the_grant_header_is_sent():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get(s.HANDOFF_HEADER))
        return httpx.Response(200, json=[])

    async with AccountServices("http://services.test", transport=httpx.MockTransport(handler)) as c:
        await c.as_user("t", handoff=42).devices()
        await c.as_user("t").devices()
    assert seen == ["42", None]
