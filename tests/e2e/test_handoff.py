"""The handoff desk on the running stack: a customer on the chat endpoint, an agent on the
console's socket, the account services keeping the queue and the transcript.

The customer writes through the portal channel (the widget's own socket is driven in
Chromium by tests/e2e/test_desk.py) and reads what is pushed later on its event stream; the
agent is a Socket.IO client of `/desk/socket.io`, exactly the calls the console page makes.
The stack's clocks are short (tests/e2e/conftest.py): unclaimed after 15 s, an agent silent
for 8 s loses the handoff, the assistant looks every 0.5 s.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional

import httpx
import pytest
import socketio
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.services import models as m

BEN = "ben.buyer@acme.example"
DIEGO = "diego.admin@globex.example"
SAM = "sam.agent@vendor.example"
TESS = "tess.agent@vendor.example"  # a second support agent, added to this stack's database
CARD = "4111 1111 1111 1111"


class Customer:
    """A signed-in customer: messages through the portal channel, pushes from its stream."""

    def __init__(self, stack: Any, email: str):
        self.stack = stack
        self.token = stack.services.token(email, channel="portal")
        stack.tokens_sent.add(self.token)
        self.pushed: List[Dict[str, Any]] = []
        self._stream: Optional[asyncio.Task] = None
        self._ready = asyncio.Event()

    async def say(self, text: str) -> List[Dict[str, Any]]:
        return await asyncio.to_thread(self.stack.say, text, self.token)

    async def listen(self) -> None:
        self._stream = asyncio.create_task(self._read())
        await asyncio.wait_for(self._ready.wait(), 10)

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        url = f"{self.stack.rasa_url}/webhooks/portal/events"
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if event == "ready":
                        self._ready.set()
                    elif event == "message":
                        # When it arrived (monotonic): bench/handoff_latency.py times the relay.
                        self.pushed.append({**json.loads(line[6:]), "_at": time.monotonic()})

    async def pushed_text(self, fragment: str, timeout: float = 15) -> Dict[str, Any]:
        """The first pushed message containing `fragment` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.pushed:
                if fragment in (message.get("text") or ""):
                    return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"nothing pushed with {fragment!r}; got {self.pushed}")

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()


class Console:
    """An agent console: the socket calls the page makes."""

    def __init__(self, stack: Any, email: str = SAM):
        self.stack = stack
        self.token = stack.services.token(email, channel="portal")
        stack.tokens_sent.add(self.token)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.messages: List[Dict[str, Any]] = []
        self.queue_changes: List[Dict[str, Any]] = []
        self.sio.on("desk_message", lambda m: self.messages.append({**m, "_at": time.monotonic()}))
        self.sio.on("queue_changed", self.queue_changes.append)
        self._heartbeat: Optional[asyncio.Task] = None

    async def connect(self) -> None:
        await self.sio.connect(
            self.stack.rasa_url,
            socketio_path="/desk/socket.io",
            # engineio's websocket client needs a newer aiohttp than Rasa pins: long-polling
            # (the browser's console uses the websocket; tests/e2e/test_desk.py drives it).
            transports=["polling"],
            auth={"token": self.token},
            wait_timeout=10,
        )
        self._heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        """What the page does every 5 s: read the queue (the agent's heartbeat)."""
        while True:
            await asyncio.sleep(3)
            await self.call("queue")

    async def call(self, event: str, payload: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        return await self.sio.call(event, payload or {}, timeout=15)

    async def waiting(self, person: str, timeout: float = 10) -> Dict[str, Any]:
        """The waiting handoff of `person` (by name), once it is in the queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ack = await self.call("queue")
            assert ack["ok"], ack
            for handoff in ack["queue"]["waiting"]:
                if handoff["person_name"].startswith(person):
                    return handoff
            await asyncio.sleep(0.2)
        raise AssertionError(f"no waiting handoff of {person}")

    async def customer_said(self, fragment: str, timeout: float = 10) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["kind"] == "customer" and fragment in message["reply"]["text"]:
                    return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"the console never saw {fragment!r}: {self.messages}")

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await self.sio.disconnect()


@pytest.fixture(scope="module")
def second_agent(stack: Any) -> str:
    """Tess, a support agent beside Sam (the demo world has one), in this stack's database."""
    with Session(stack.services.engine) as session, session.begin():
        if session.scalar(select(m.User).filter_by(email=TESS)) is None:
            session.add(
                m.User(
                    email=TESS,
                    name="Tess Tran",
                    language="en",
                    staff_role="support_agent",
                    job_title="",
                    phone="",
                )
            )
    return TESS


@asynccontextmanager
async def desk_with(stack: Any, email: str) -> AsyncIterator[tuple]:
    customer, console = Customer(stack, email), Console(stack)
    await customer.listen()
    await console.connect()
    try:
        yield customer, console
    finally:
        await customer.close()
        await console.close()
        # A failed test leaves no open handoff for the next one (the assistant notices).
        with Session(stack.services.engine) as session, session.begin():
            session.execute(
                update(m.Handoff)
                .where(m.Handoff.state.in_(["waiting", "claimed"]))
                .values(state="closed", outcome="unresolved")
            )


def texts(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def stored_messages(stack: Any, handoff_id: int) -> List[str]:
    with sqlite3.connect(stack.services.database_url.replace("sqlite:///", "")) as db:
        rows = db.execute(
            "SELECT text FROM handoff_messages WHERE handoff_id = ? ORDER BY id", (handoff_id,)
        ).fetchall()
    return [text for (text,) in rows]


async def test_an_agent_takes_over_and_hands_back_in_english(stack):
    async with desk_with(stack, BEN) as (ben, sam):
        await ben.say("show my unpaid invoices")
        opened = await ben.say("I want to talk to a person")
        assert "connecting you with a person" in texts(opened)
        assert opened[-1]["buttons"] == [
            {"title": "Back to the assistant", "payload": "/handoff_cancel"}
        ]
        handoff = await sam.waiting("Ben")
        assert handoff["language"] == "en" and handoff["reason"] == "asked"
        assert handoff["account_name"].startswith("Acme")

        claimed = await sam.call("claim", {"id": handoff["id"]})
        assert claimed["ok"], claimed
        transcript = [m["text"] for m in claimed["handoff"]["messages"]]
        assert "show my unpaid invoices" in transcript
        assert "I want to talk to a person" in transcript
        assert (await ben.pushed_text("has joined the conversation"))["kind"] == "system"

        # While Sam holds it, the assistant is silent and the customer reaches Sam, masked.
        replies = await ben.say(f"my card {CARD} was charged twice for INV-10000003")
        assert replies == []
        seen = await sam.customer_said("was charged twice")
        assert CARD not in seen["reply"]["text"]

        said = await sam.call("say", {"id": handoff["id"], "text": "Hi Ben, I'm looking at it"})
        assert said["ok"], said
        agent_line = await ben.pushed_text("I'm looking at it")
        assert agent_line["kind"] == "agent" and agent_line["data"]["agent_name"]

        invoices = await sam.call("account", {"id": handoff["id"], "area": "invoices"})
        assert invoices["ok"], invoices
        assert invoices["rows"] and all(r["number"].startswith("INV-") for r in invoices["rows"])

        closed = await sam.call("close", {"id": handoff["id"], "outcome": "resolved"})
        assert closed["ok"], closed
        resumed = await ben.pushed_text("has closed the conversation")
        assert "anything else?" in resumed["text"]

        # The assistant answers again, and the agent's grant ended with the handoff.
        assert "INV-" in texts(await ben.say("show my unpaid invoices"))
        refused = await sam.call("account", {"id": handoff["id"], "area": "invoices"})
        assert not refused["ok"] and refused["code"] == "no_handoff_grant"

    stored = stored_messages(stack, handoff["id"])
    assert any("was charged twice" in text for text in stored)
    assert not any(CARD in text or CARD.replace(" ", "") in text for text in stored)
    assert any("looking at it" in text for text in stored)


async def test_a_whole_handoff_in_spanish(stack):
    async with desk_with(stack, DIEGO) as (diego, sam):
        opened = await diego.say("quiero hablar con una persona")
        assert "Te estoy pasando con una persona" in texts(opened)
        assert opened[-1]["buttons"][0]["title"] == "Volver al asistente"
        handoff = await sam.waiting("Diego")
        assert handoff["language"] == "es"
        assert (await sam.call("claim", {"id": handoff["id"]}))["ok"]
        await diego.pushed_text("se ha unido a la conversación")
        assert await diego.say("necesito ayuda con un pedido") == []
        await sam.customer_said("necesito ayuda con un pedido")
        await sam.call("say", {"id": handoff["id"], "text": "Hola Diego, lo reviso ahora"})
        await diego.pushed_text("lo reviso ahora")
        await sam.call("close", {"id": handoff["id"], "outcome": "resolved"})
        resumed = await diego.pushed_text("ha cerrado la conversación")
        assert "¿algo más?" in resumed["text"]


async def test_the_customer_can_leave_the_queue_and_the_assistant_answers_again(stack):
    async with desk_with(stack, BEN) as (ben, sam):
        await ben.say("talk to a person")
        handoff = await sam.waiting("Ben")
        left = await ben.say("/handoff_cancel")
        assert "you've left the queue" in texts(left)
        queue = (await sam.call("queue"))["queue"]
        assert handoff["id"] not in [h["id"] for h in queue["waiting"]]
        assert "INV-" in texts(await ben.say("show my unpaid invoices"))
        refused = await sam.call("claim", {"id": handoff["id"]})
        assert not refused["ok"]


async def test_two_agents_claiming_at_once_give_exactly_one_holder(stack, second_agent):
    async with desk_with(stack, BEN) as (ben, first):
        second = Console(stack, second_agent)
        await second.connect()
        try:
            await ben.say("get me a real person")
            handoff = await first.waiting("Ben")
            results = await asyncio.gather(
                first.call("claim", {"id": handoff["id"]}),
                second.call("claim", {"id": handoff["id"]}),
            )
            winners = [r for r in results if r["ok"]]
            losers = [r for r in results if not r["ok"]]
            assert len(winners) == 1 and len(losers) == 1, results
            assert losers[0]["code"] == "already_claimed" and losers[0]["claimed_by"]
            holder = first if results[0]["ok"] else second
            await holder.call("close", {"id": handoff["id"], "outcome": "resolved"})
            await ben.pushed_text("has closed the conversation")
        finally:
            await second.close()


async def test_a_silent_agent_loses_the_handoff_to_the_queue(stack):
    async with desk_with(stack, BEN) as (ben, sam):
        await ben.say("can I talk to someone")
        handoff = await sam.waiting("Ben")
        assert (await sam.call("claim", {"id": handoff["id"]}))["ok"]
        await ben.pushed_text("has joined the conversation")
        await sam.close()  # the console is gone: no more heartbeats
        back = await ben.pushed_text("had to leave", timeout=20)
        assert "back in the queue" in back["text"]
        other = Console(stack)
        await other.connect()
        try:
            again = await other.waiting("Ben")
            assert again["id"] == handoff["id"]
            assert (await ben.say("/handoff_cancel"))[0]["text"].startswith("Done")
        finally:
            await other.close()


async def test_unclaimed_too_long_offers_a_service_request_with_the_conversation(stack):
    async with desk_with(stack, BEN) as (ben, sam):
        await ben.say("warranty for service tag 7XK2M93")
        await ben.say("I want to talk to a person")
        handoff = await sam.waiting("Ben")
        offer = await ben.pushed_text("nobody on the support team is free", timeout=30)
        assert [b["payload"] for b in offer["buttons"]] == [
            "/handoff_service_request",
            "/handoff_keep_waiting",
            "/handoff_cancel",
        ]
        opened = texts(await ben.say("/handoff_service_request"))
        assert "I've opened service request" in opened
        number = opened.split("service request ", 1)[1].split(" ", 1)[0]
        request = httpx.get(
            f"{stack.services.base_url}/service-requests/{number}",
            headers={"Authorization": f"Bearer {ben.token}"},
        ).json()
        assert "warranty for service tag 7XK2M93" in json.dumps(request)
        queue = (await sam.call("queue"))["queue"]
        assert handoff["id"] not in [h["id"] for h in queue["waiting"]]


async def test_a_customer_cannot_open_the_desk(stack):
    console = Console(stack, BEN)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await console.connect()
