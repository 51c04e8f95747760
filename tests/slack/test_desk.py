"""The handoff desk in Slack: the support channel, Claim, the thread's relay, and closing.

The Slack app runs as its own process against the real account services (handoffs opened
and claimed there for real) and a real Redis (the push hub across processes, db 5: no other
test uses it); what Slack shows is the fake Web API's record. The tests play the other
processes' part on the push hub: the `created` queue change the Rasa side publishes, the
customer's messages on `desk:<id>`, and the customer's conversation they subscribe to.
Sam (U0SAM) and Tess (U0TESS, added here) are support agents in the vendor's workspace;
Eve (U0EVE) is vendor staff but no agent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from typing import Any, AsyncIterator, Dict, Iterator

import pytest
import redis
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.chat.push import PushMessage, RedisPushHub
from bot.services import models as m
from bot.slack.memory import Memory, RedisMemory
from tests.conftest import RunningServices
from tests.slack.fake_slack import Call
from tests.slack.harness import SlackApp, running_slack_app

# The desk against the services on SQLite (their PostgreSQL behaviour is tested with them).
ON_SQLITE = pytest.mark.parametrize("services", ["sqlite"], indirect=True)
REDIS_URL = "redis://127.0.0.1:6379/5"
SUPPORT = "C0SUPPORT"
VENDOR = "T0VENDOR"
SAM, TESS, EVE, NOBODY = "U0SAM", "U0TESS", "U0EVE", "U0NOBODY"
TESS_EMAIL = "tess.agent@vendor.example"


@pytest.fixture(scope="module")
def desk_app(
    services: RunningServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackApp]:
    """The Slack app with a support channel and Redis, and a second support agent linked."""
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()  # handoff ids restart with each database
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    with Session(services.engine) as session, session.begin():
        tess = session.scalar(select(m.User).filter_by(email=TESS_EMAIL))
        if tess is None:
            tess = m.User(
                email=TESS_EMAIL,
                name="Tess Tran",
                language="en",
                staff_role="support_agent",
                job_title="",
                phone="",
            )
            session.add(tess)
            session.flush()
        session.add(m.SlackLink(team_id=VENDOR, slack_user_id=TESS, user_id=tess.id))
        # Redis pub/sub is one namespace whatever the db: other test runs on this machine may
        # push `desk` news of their own handoffs 1, 2, ... Ours start far from theirs.
        ana = session.scalar(select(m.User).filter_by(email="ana.admin@acme.example"))
        offset = session.scalar(select(func.max(m.Handoff.id))) or 0
        session.add(
            m.Handoff(
                id=max(offset + 1, random.randrange(10**6, 10**8)),
                account_id=session.scalar(select(m.Account.id).filter_by(name="Acme Corporation")),
                user_id=ana.id,
                role="site_admin",
                conversation_id=f"offset-{uuid.uuid4().hex}",
                channel="widget",
                language="en",
                reason="asked",
                slots={},
                state="cancelled",
            )
        )
    log = tmp_path_factory.mktemp("slack-desk") / "slack.log"
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SLACK_SUPPORT_CHANNEL", SUPPORT)
            # The app reads a held handoff every third of this (the agent's heartbeat): 1 s.
            env.setenv("HANDOFF_AGENT_GRACE_SECONDS", "3")
            with running_slack_app(services, log, redis_url=REDIS_URL) as app:
                yield app
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(delete(m.SlackLink).filter_by(team_id=VENDOR, slack_user_id=TESS))
            session.execute(
                update(m.User).where(m.User.email == TESS_EMAIL).values(status="deactivated")
            )


@pytest.fixture
async def hub() -> AsyncIterator[RedisPushHub]:
    async with RedisPushHub(REDIS_URL) as started:
        assert isinstance(started, RedisPushHub)
        yield started


def _open_handoff(services: RunningServices, text: str = "my invoice total is wrong") -> int:
    """Ana asks for a person from the website chat: a waiting handoff at the services."""
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    with services.client("ana.admin@acme.example") as client:
        response = client.post(
            "/handoffs",
            json={
                "conversation_id": f"widget-{uuid.uuid4().hex}",
                "channel": "widget",
                "language": "en",
                "reason": "asked",
                "topic": "pay_invoice",
                "slots": {"invoice_number": "INV-10000003"},
                "transcript": [
                    {"who": "customer", "text": text, "at": now},
                    {"who": "assistant", "text": "Let me find a person for you.", "at": now},
                ],
            },
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _summary(services: RunningServices, handoff_id: int) -> Dict[str, Any]:
    with services.client("sam.agent@vendor.example") as client:
        queue = client.get("/desk/queue").json()
    return next(h for h in queue["waiting"] if h["id"] == handoff_id)


def _detail(services: RunningServices, handoff_id: int) -> Dict[str, Any]:
    with Session(services.engine) as session:
        handoff = session.get(m.Handoff, handoff_id)
        assert handoff is not None
        lines = session.scalars(
            select(m.HandoffMessage).filter_by(handoff_id=handoff_id).order_by(m.HandoffMessage.id)
        )
        return {
            "state": handoff.state,
            "outcome": handoff.outcome,
            "conversation_id": handoff.conversation_id,
            "messages": [(line.who, line.text) for line in lines],
        }


async def _wait(app: SlackApp, mark: int, where: Any, count: int = 1) -> list:
    """The fake's wait, off the event loop (the hub's reader runs meanwhile)."""
    return await asyncio.to_thread(app.fake.wait, mark, where, count=count, timeout=30)


async def _next_of_kind(messages: Any, kind: str) -> PushMessage:
    """The next message of `kind` (the claim's own state change may come first)."""
    async for message in messages:
        if message.kind == kind:
            return message
    raise AssertionError(f"no {kind} message")


def _posted(channel: str, thread_ts: Any = None):
    def where(call: Call) -> bool:
        return (
            call.method == "chat.postMessage"
            and call.args.get("channel") == channel
            and call.args.get("thread_ts") == thread_ts
        )

    return where


def _ephemeral(user: str):
    return lambda c: c.method == "chat.postEphemeral" and c.args.get("user") == user


def _about(call: Call, ts: str) -> bool:
    """Whether Slack was asked something about the support message `ts` or its thread.

    Ephemeral answers to a click name no message: those are taken as about it too.
    """
    return (
        call.args.get("ts") == ts
        or call.args.get("thread_ts") == ts
        or call.method == "chat.postEphemeral"
    )


def _updated(ts: str):
    return lambda c: c.method == "chat.update" and c.args.get("ts") == ts


async def _announce(app: SlackApp, hub: RedisPushHub, services: RunningServices) -> tuple:
    """A new handoff, as the Rasa side tells the `desk` topic; returns it and its support post."""
    handoff_id = _open_handoff(services)
    mark = app.fake.mark()
    data = {"type": "queue_changed", "event": "created", "handoff": _summary(services, handoff_id)}
    assert await hub.publish("desk", {"text": "", "data": data}, kind="system") >= 1
    (post,) = await _wait(app, mark, lambda c: _posted(SUPPORT)(c) and f"#{handoff_id}" in c.text)
    return handoff_id, post


async def _claimed(app: SlackApp, hub: RedisPushHub, services: RunningServices) -> tuple:
    """A handoff Sam has claimed from Slack: its id, the support post and the thread's root."""
    handoff_id, post = await _announce(app, hub, services)
    mark = app.fake.mark()
    assert app.slack.click(VENDOR, SAM, post, "Claim", ephemeral=False).status_code == 200
    (root,) = await _wait(app, mark, _posted(SUPPORT, post.ts))
    await _wait(app, mark, _updated(post.ts))
    return handoff_id, post, root


@ON_SQLITE
async def test_a_new_handoff_is_posted_to_the_support_channel_with_a_claim_button(
    desk_app, hub, services
):
    handoff_id, post = await _announce(desk_app, hub, services)
    assert post.args["channel"] == SUPPORT and post.args.get("thread_ts") is None
    text = post.text
    assert f"#{handoff_id}" in text
    for fact in ("Acme Corporation", "Ana", "site admin", "English", "website chat"):
        assert fact in text, fact
    assert "asked for a person" in text and "pay_invoice" in text and "Waiting since" in text
    assert [b["text"]["text"] for b in post.buttons] == ["Claim"]
    # The same news again (another replica, a retry) posts nothing more.
    mark = desk_app.fake.mark()
    data = {"type": "queue_changed", "event": "created", "handoff": {"id": handoff_id}}
    await hub.publish("desk", {"text": "", "data": data}, kind="system")
    later = await asyncio.to_thread(desk_app.fake.quiet, mark, 1.5)
    assert [c for c in later if f"#{handoff_id}" in c.text] == []


@ON_SQLITE
async def test_sams_claim_wins_a_thread_with_the_transcript_and_tess_is_told_who_has_it(
    desk_app, hub, services, audit_rows
):
    handoff_id, post, root = await _claimed(desk_app, hub, services)
    assert root.args["thread_ts"] == post.ts
    assert "my invoice total is wrong" in root.text and "Let me find a person" in root.text
    assert "INV-10000003" in root.text and "Sam" in root.text  # the context: what was said
    titles = [b["text"]["text"] for b in root.buttons]
    assert titles == [
        "Close: resolved",
        "Close: unresolved",
        "Close: service request opened",
        "Release",
    ]
    (claimed,) = [c for c in desk_app.fake.since(0) if _updated(post.ts)(c)]
    assert "Claimed by *Sam" in claimed.text and claimed.buttons == []
    assert _detail(services, handoff_id)["state"] == "claimed"
    (row,) = audit_rows(expect=1, action="handoff_claim", target=f"handoff {handoff_id}")
    assert row.channel == "slack" and row.user_id == services.user_id("sam.agent@vendor.example")
    # Tess clicks the same (old) Claim button: told, to her alone, who has it; nothing else.
    mark = desk_app.fake.mark()
    assert desk_app.slack.click(VENDOR, TESS, post, "Claim", ephemeral=False).status_code == 200
    (told,) = await _wait(desk_app, mark, _ephemeral(TESS))
    assert told.args["channel"] == SUPPORT and "Sam Ortiz" in told.text
    assert "already claimed" in told.text
    later = await asyncio.to_thread(desk_app.fake.quiet, mark, 1.0)
    assert [c.method for c in later if _about(c, post.ts)] == ["chat.postEphemeral"]


@ON_SQLITE
async def test_someone_who_is_no_support_agent_cannot_claim(desk_app, hub, services):
    handoff_id, post = await _announce(desk_app, hub, services)
    mark = desk_app.fake.mark()
    desk_app.slack.click(VENDOR, EVE, post, "Claim", ephemeral=False)
    (refused,) = await _wait(desk_app, mark, _ephemeral(EVE))
    assert "Only support agents" in refused.text
    desk_app.slack.click(VENDOR, NOBODY, post, "Claim", ephemeral=False)
    (unlinked,) = await _wait(desk_app, mark, _ephemeral(NOBODY))
    assert "link" in unlinked.text and NOBODY in unlinked.text
    later = await asyncio.to_thread(desk_app.fake.quiet, mark, 1.0)
    assert [c.method for c in later if _about(c, post.ts)] == ["chat.postEphemeral"] * 2
    assert _detail(services, handoff_id)["state"] == "waiting"


@ON_SQLITE
async def test_the_customers_messages_are_posted_in_the_thread(desk_app, hub, services):
    handoff_id, post, _ = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    said = {"text": "It says 1,200 but it should be <!channel> 1,000", "data": {"type": "x"}}
    assert await hub.publish(f"desk:{handoff_id}", said, kind="customer") >= 1
    (relayed,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "Ana" in relayed.text and "1,200" in relayed.text
    assert "<!channel>" not in relayed.text  # the customer's text cannot ping the channel
    # Typing and the app's own agent messages are not posted.
    await hub.publish(f"desk:{handoff_id}", {"text": ""}, kind="typing")
    later = await asyncio.to_thread(desk_app.fake.quiet, mark, 1.0)
    assert [c for c in later if _about(c, post.ts)] == [relayed]


@ON_SQLITE
async def test_sams_reply_in_the_thread_reaches_the_customer_and_the_transcript(
    desk_app, hub, services
):
    handoff_id, post, _ = await _claimed(desk_app, hub, services)
    conversation = _detail(services, handoff_id)["conversation_id"]
    async with (
        hub.subscribe(conversation) as customer,
        hub.subscribe(f"desk:{handoff_id}") as console,
    ):
        desk_app.slack.thread_reply(VENDOR, SAM, SUPPORT, post.ts, "Hi Ana, I'm fixing it now.")
        message: PushMessage = await asyncio.wait_for(customer.__anext__(), 20)
        seen = await asyncio.wait_for(_next_of_kind(console, "agent"), 20)
    assert message.kind == "agent" and message.reply["text"] == "Hi Ana, I'm fixing it now."
    assert message.reply["data"] == {"type": "agent_message", "agent_name": "Sam"}
    assert seen.kind == "agent" and seen.reply["text"] == "Hi Ana, I'm fixing it now."
    assert ("agent", "Hi Ana, I'm fixing it now.") in _detail(services, handoff_id)["messages"]
    # Tess writing in Sam's thread does not reach the customer; she is told why.
    mark = desk_app.fake.mark()
    async with hub.subscribe(conversation) as customer:
        desk_app.slack.thread_reply(VENDOR, TESS, SUPPORT, post.ts, "I can take it too")
        (told,) = await _wait(desk_app, mark, _ephemeral(TESS))
        assert "Only *Sam Ortiz*" in told.text and told.args["thread_ts"] == post.ts
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(customer.__anext__(), 1.0)
    assert ("agent", "I can take it too") not in _detail(services, handoff_id)["messages"]


@ON_SQLITE
async def test_sam_closes_from_the_thread_with_a_button(desk_app, hub, services, audit_rows):
    handoff_id, post, root = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    # Only the holder may close.
    desk_app.slack.click(VENDOR, TESS, root, "Close: resolved", ephemeral=False)
    await _wait(desk_app, mark, _ephemeral(TESS))
    assert _detail(services, handoff_id)["state"] == "claimed"
    mark = desk_app.fake.mark()
    desk_app.slack.click(VENDOR, SAM, root, "Close: resolved", ephemeral=False)
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "Closed as *resolved* by *Sam Ortiz*" in note.text
    (done,) = await _wait(desk_app, mark, _updated(root.ts))
    assert done.buttons == []
    (support,) = await _wait(desk_app, mark, _updated(post.ts))
    assert "Closed by *Sam Ortiz*: resolved" in support.text and support.buttons == []
    detail = _detail(services, handoff_id)
    assert detail["state"] == "closed" and detail["outcome"] == "resolved"
    # The thread no longer relays: a message there is the assistant's business no more.
    mark = desk_app.fake.mark()
    desk_app.slack.thread_reply(VENDOR, SAM, SUPPORT, post.ts, "anything else?")
    await asyncio.to_thread(desk_app.fake.quiet, mark, 1.0)
    assert ("agent", "anything else?") not in _detail(services, handoff_id)["messages"]


@ON_SQLITE
async def test_premier_close_typed_in_the_thread_closes_with_its_outcome(desk_app, hub, services):
    handoff_id, post, root = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    desk_app.slack.thread_reply(
        VENDOR, SAM, SUPPORT, post.ts, "/premier close unresolved billing must call back"
    )
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "unresolved" in note.text
    detail = _detail(services, handoff_id)
    assert detail["state"] == "closed" and detail["outcome"] == "unresolved"
    with Session(services.engine) as session:
        assert session.get(m.Handoff, handoff_id).note == "billing must call back"


@ON_SQLITE
async def test_release_puts_the_claim_button_back(desk_app, hub, services):
    handoff_id, post, root = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    desk_app.slack.click(VENDOR, SAM, root, "Release", ephemeral=False)
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "back in the queue" in note.text
    (support,) = await _wait(desk_app, mark, _updated(post.ts))
    assert [b["text"]["text"] for b in support.buttons] == ["Claim"]
    assert _detail(services, handoff_id)["state"] == "waiting"
    # Tess can now claim it, in a thread of her own ...
    mark = desk_app.fake.mark()
    desk_app.slack.click(VENDOR, TESS, post, "Claim", ephemeral=False)
    (thread,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "Tess" in thread.text
    # ... and close it with the command (Slack does not say which thread it was typed in:
    # her one handoff in this channel is meant).
    mark = desk_app.fake.mark()
    desk_app.slack.command(VENDOR, TESS, SUPPORT, "close request SR opened for the refund")
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "Closed as *service request opened* by *Tess Tran*" in note.text
    detail = _detail(services, handoff_id)
    assert detail["state"] == "closed" and detail["outcome"] == "service_request_opened"
    mark = desk_app.fake.mark()
    url = desk_app.slack.command(VENDOR, TESS, SUPPORT, "close")
    (told,) = await _wait(desk_app, mark, lambda c: c.method == "respond" and c.url == url)
    assert "no handoff in this channel" in told.text


@ON_SQLITE
async def test_when_the_customer_goes_back_to_the_assistant_the_thread_says_so(
    desk_app, hub, services
):
    handoff_id, post, root = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    with services.client("ana.admin@acme.example") as client:
        assert client.post(f"/handoffs/{handoff_id}/cancel").status_code == 200
    data = {"type": "queue_changed", "event": "cancelled", "handoff": {"id": handoff_id}}
    await hub.publish("desk", {"text": "", "data": data}, kind="system")
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "went back to the assistant" in note.text
    (support,) = await _wait(desk_app, mark, _updated(post.ts))
    assert "went back to the assistant" in support.text and support.buttons == []
    (done,) = await _wait(desk_app, mark, _updated(root.ts))
    assert done.buttons == []


@ON_SQLITE
async def test_a_handoff_taken_back_elsewhere_ends_the_thread_at_the_next_heartbeat(
    desk_app, hub, services
):
    handoff_id, post, _ = await _claimed(desk_app, hub, services)
    mark = desk_app.fake.mark()
    # Sam releases it at the agent console: nothing is pushed, the heartbeat notices.
    with services.client("sam.agent@vendor.example") as client:
        assert client.post(f"/desk/handoffs/{handoff_id}/release").status_code == 200
    (note,) = await _wait(desk_app, mark, _posted(SUPPORT, post.ts))
    assert "went back to the queue" in note.text
    (support,) = await _wait(desk_app, mark, _updated(post.ts))
    assert [b["text"]["text"] for b in support.buttons] == ["Claim"]


async def test_the_desk_remembers_records_in_process_and_in_redis():
    for memory in (Memory(ttl=60), RedisMemory(REDIS_URL, ttl=60)):
        key = f"desk:thread:{uuid.uuid4().hex}"
        assert await memory.recall(key) is None
        await memory.remember(key, {"id": 7, "channel": SUPPORT})
        assert await memory.recall(key) == {"id": 7, "channel": SUPPORT}
        await memory.drop(key)
        assert await memory.recall(key) is None
        await memory.remember(key, {"id": 8}, ttl=0 if type(memory) is Memory else 1)
        await asyncio.sleep(1.2)
        assert await memory.recall(key) is None
        await memory.close()
