"""Push into open conversations: in one process, and across processes through a real Redis.

Redis is the one at TEST_REDIS_URL (default redis://127.0.0.1:6379/0); each test uses its own
channel prefix, so tests never hear each other or anything else on that server. In CI
(`CI=true`) Redis is required; on a laptop without it the Redis tests skip and say why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import textwrap
import uuid
from typing import AsyncIterator, Awaitable, Callable, List

import pytest
import redis
import redis.asyncio as aioredis

from bot.chat.push import (
    InProcessPushHub,
    PushHub,
    PushMessage,
    PushUnavailable,
    RedisPushHub,
    Subscription,
    push_hub_from_url,
)
from bot.settings import PROJECT_ROOT

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AGENT_REPLY = {
    "text": "Hola, soy Sam, del equipo de soporte. ¿En qué puedo ayudarte?",
    "buttons": [{"title": "Gracias", "payload": "/thanks"}],
    "data": {"agent": {"name": "Sam"}, "handoff_id": 17},
}


async def next_message(subscription: Subscription, timeout: float = 2.0) -> PushMessage:
    return await asyncio.wait_for(subscription.__anext__(), timeout)


@pytest.fixture
async def hub() -> AsyncIterator[PushHub]:
    async with InProcessPushHub() as hub:
        yield hub


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Redis at {REDIS_URL} ({type(error).__name__})")
    return REDIS_URL


@pytest.fixture
def channel_prefix() -> str:
    return f"test:push:{uuid.uuid4().hex}:"


@pytest.fixture
async def replicas(
    redis_url: str, channel_prefix: str
) -> AsyncIterator[Callable[..., Awaitable[RedisPushHub]]]:
    """Start Redis hubs on one channel prefix, as replicas of one deployment would."""
    started: List[RedisPushHub] = []

    async def start(**options: object) -> RedisPushHub:
        hub = RedisPushHub(redis_url, channel_prefix=channel_prefix, **options)
        await hub.start()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        await hub.close()


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.close(close_connection_pool=True)


# -- the message --------------------------------------------------------------------------


def test_a_message_survives_json_exactly():
    message = PushMessage(conversation_id="user-7", reply=AGENT_REPLY, kind="agent")
    again = PushMessage.from_json(message.to_json())
    assert again == message
    assert again.reply == AGENT_REPLY
    assert again.created_at.tzinfo is not None
    assert uuid.UUID(hex=again.id)


@pytest.mark.parametrize(
    "reply",
    [
        {},
        {"text": 42},
        "just text",
        {"text": "hi", "buttons": "yes/no"},
        {"text": "hi", "data": ["not", "a", "mapping"]},
        {"text": "hi", "data": {"when": object()}},
        {"text": "hi", "data": {"amount": float("nan")}},
    ],
    ids=["no-text", "text-not-str", "not-a-mapping", "buttons", "data", "not-json", "nan"],
)
def test_a_reply_outside_the_reply_shape_is_refused(reply):
    with pytest.raises(ValueError):
        PushMessage(conversation_id="user-7", reply=reply)


@pytest.mark.parametrize(
    "raw",
    ["not json", "[]", '{"conversation_id": "user-7"}', '{"conversation_id": "u", "reply": {}}'],
)
def test_anything_but_a_push_message_does_not_parse(raw):
    with pytest.raises(ValueError):
        PushMessage.from_json(raw)


# -- in process ---------------------------------------------------------------------------


async def test_a_subscriber_gets_what_is_published(hub):
    async with hub.subscribe("user-1") as subscription:
        reached = await hub.publish("user-1", AGENT_REPLY, kind="agent")
        message = await next_message(subscription)
    assert reached == 1
    assert (message.conversation_id, message.kind, message.reply) == (
        "user-1",
        "agent",
        AGENT_REPLY,
    )


async def test_every_connection_of_a_conversation_gets_every_message(hub):
    async with hub.subscribe("user-1") as widget, hub.subscribe("user-1") as second_tab:
        assert await hub.publish("user-1", {"text": "one"}, kind="notice") == 2
        assert await hub.publish("user-1", {"text": "two"}, kind="notice") == 2
        for subscription in (widget, second_tab):
            assert [(await next_message(subscription)).reply["text"] for _ in "12"] == [
                "one",
                "two",
            ]


async def test_another_conversation_gets_nothing(hub):
    async with hub.subscribe("user-1") as mine, hub.subscribe("user-2") as theirs:
        assert await hub.publish("user-1", {"text": "for user 1"}) == 1
        assert await hub.publish("user-2", {"text": "for user 2"}) == 1
        # user-2's first message is its own: user-1's, published earlier, never reached it.
        assert (await next_message(theirs)).reply == {"text": "for user 2"}
        assert (await next_message(mine)).reply == {"text": "for user 1"}


async def test_a_closed_subscription_is_gone_and_reaches_nobody(hub):
    async with hub.subscribe("user-1") as subscription:
        assert hub.conversations() == {"user-1"}
    assert subscription.closed
    assert await hub.publish("user-1", {"text": "anyone there?"}) == 0
    assert hub.conversations() == frozenset()
    assert hub.subscription_count() == 0
    with pytest.raises(StopAsyncIteration):
        await next_message(subscription)


async def test_the_published_reply_is_a_copy(hub):
    reply = {"text": "Your order shipped", "data": {"order": "100000001"}}
    async with hub.subscribe("user-1") as subscription:
        await hub.publish("user-1", reply, kind="notice")
        reply["text"] = "changed afterwards"
        reply["data"]["order"] = "999999999"
        message = await next_message(subscription)
    assert message.reply == {"text": "Your order shipped", "data": {"order": "100000001"}}


async def test_a_slow_connection_keeps_the_newest_messages(caplog):
    caplog.set_level(logging.WARNING, logger="bot.chat.push")
    async with InProcessPushHub(max_queued=3) as hub, hub.subscribe("user-1") as slow:
        for n in range(1, 6):
            await hub.publish("user-1", {"text": f"notice {n}"}, kind="notice")
        kept = [(await next_message(slow)).reply["text"] for _ in range(3)]
        assert kept == ["notice 3", "notice 4", "notice 5"]
        assert slow.dropped == 2
        await hub.publish("user-1", {"text": "notice 6"}, kind="notice")
        assert (await next_message(slow)).reply["text"] == "notice 6"
    assert any("dropped" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert not any("notice" in r.getMessage() for r in caplog.records), "no message text in logs"


async def test_closing_the_hub_ends_open_subscriptions():
    hub = InProcessPushHub()
    await hub.start()
    async with hub.subscribe("user-1") as subscription:
        await hub.publish("user-1", {"text": "last words"}, kind="system")
        await hub.close()
        received = [message.reply["text"] async for message in subscription]
    assert received == ["last words"]
    with pytest.raises(RuntimeError):
        await hub.publish("user-1", {"text": "too late"})


async def test_a_hub_is_started_before_use():
    hub = InProcessPushHub()
    with pytest.raises(RuntimeError):
        await hub.publish("user-1", {"text": "hello"})


# -- choosing the hub from REDIS_URL ------------------------------------------------------


@pytest.mark.parametrize("url", [None, "", "  "])
def test_no_push_url_means_in_process(url):
    assert isinstance(push_hub_from_url(url), InProcessPushHub)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "rediss://:pw@redis.example:6380"])
def test_a_redis_push_url_means_redis(url):
    hub = push_hub_from_url(url)
    assert isinstance(hub, RedisPushHub)
    assert hub.channel("user-1") == "premier:push:user-1"


@pytest.mark.parametrize(
    "url", ["http://redis.example", "postgres://admin:hunter2@db.example/x", "hunter2@localhost"]
)
def test_any_other_push_url_is_refused_naming_the_setting(url):
    with pytest.raises(ValueError, match="REDIS_URL") as refused:
        push_hub_from_url(url)
    assert "hunter2" not in str(refused.value)


async def test_an_unreachable_redis_stops_start_up():
    hub = RedisPushHub("redis://127.0.0.1:1/0", socket_timeout=1.0)
    with pytest.raises(PushUnavailable, match="REDIS_URL"):
        await hub.start()


# -- across processes, through Redis -----------------------------------------------------


async def test_a_message_published_on_one_replica_reaches_a_connection_on_another(replicas):
    holding_the_socket, answering_the_agent = await replicas(), await replicas()
    async with holding_the_socket.subscribe("user-1") as subscription:
        assert await answering_the_agent.publish("user-1", AGENT_REPLY, kind="agent") == 1
        message = await next_message(subscription)
    assert (message.conversation_id, message.kind, message.reply) == (
        "user-1",
        "agent",
        AGENT_REPLY,
    )


CHILD_PUBLISHER = textwrap.dedent(
    """
    import asyncio, json, sys
    from bot.chat.push import RedisPushHub

    async def main(url, prefix, conversation_id, reply):
        async with RedisPushHub(url, channel_prefix=prefix) as hub:
            print(await hub.publish(conversation_id, json.loads(reply), kind="agent"))

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_a_message_published_by_another_process_arrives_exactly(
    replicas, redis_url, channel_prefix
):
    hub = await replicas()
    async with hub.subscribe("user-1") as subscription:
        child = await asyncio.create_subprocess_exec(
            sys.executable,  # the project's .venv/bin/python, which runs this suite
            "-c",
            CHILD_PUBLISHER,
            redis_url,
            channel_prefix,
            "user-1",
            json.dumps(AGENT_REPLY),
            cwd=PROJECT_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        message = await next_message(subscription, timeout=8.0)
        stdout, stderr = await asyncio.wait_for(child.communicate(), 8.0)
    assert child.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "1"  # one process subscribed: this one
    assert message.conversation_id == "user-1"
    assert message.kind == "agent"
    assert message.reply == AGENT_REPLY
    assert dt.datetime.now(dt.timezone.utc) - message.created_at < dt.timedelta(seconds=30)


async def test_redis_keeps_conversations_apart(replicas):
    serving, publishing = await replicas(), await replicas()
    async with serving.subscribe("user-1") as mine, serving.subscribe("user-2") as theirs:
        assert await publishing.publish("user-1", {"text": "for user 1"}) == 1
        assert await publishing.publish("user-2", {"text": "for user 2"}) == 1
        assert (await next_message(theirs)).reply == {"text": "for user 2"}
        assert (await next_message(mine)).reply == {"text": "for user 1"}


async def test_one_redis_subscription_serves_every_local_connection(replicas, redis_admin):
    serving, publishing = await replicas(), await replicas()
    channel = serving.channel("user-1")
    async with serving.subscribe("user-1") as widget, serving.subscribe("user-1") as console:
        assert await redis_admin.pubsub_numsub(channel) == [(channel, 1)]
        assert await publishing.publish("user-1", {"text": "hello both"}) == 1
        assert (await next_message(widget)).reply == {"text": "hello both"}
        assert (await next_message(console)).reply == {"text": "hello both"}
    assert serving.conversations() == frozenset()
    for _ in range(50):  # the UNSUBSCRIBE was sent; Redis applies it a moment later
        if await redis_admin.pubsub_numsub(channel) == [(channel, 0)]:
            break
        await asyncio.sleep(0.02)
    assert await redis_admin.pubsub_numsub(channel) == [(channel, 0)]
    assert await publishing.publish("user-1", {"text": "anyone there?"}) == 0


async def test_a_dropped_redis_connection_is_logged_and_reconnected(replicas, redis_admin, caplog):
    caplog.set_level(logging.INFO, logger="bot.chat.push")
    name = f"test-push-{uuid.uuid4().hex[:12]}"
    serving = await replicas(client_name=name, reconnect_delay=0.05)
    publishing = await replicas()
    async with serving.subscribe("user-1") as subscription:
        pubsub_clients = [
            client
            for client in await redis_admin.client_list()
            if client.get("name") == name and int(client.get("sub", 0)) > 0
        ]
        assert len(pubsub_clients) == 1
        await redis_admin.client_kill_filter(_id=pubsub_clients[0]["id"])

        deadline = asyncio.get_running_loop().time() + 5.0
        while True:
            await publishing.publish("user-1", {"text": "are you back?"})
            try:
                message = await next_message(subscription, timeout=0.1)
                break
            except asyncio.TimeoutError:
                assert asyncio.get_running_loop().time() < deadline, "never reconnected"
    assert message.reply == {"text": "are you back?"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the Redis pub/sub connection" in m for m in messages)
    assert any("reconnected to Redis" in m for m in messages)


class FlakyLink:
    """A TCP relay in front of Redis that a test can freeze (a link gone silent) or cut."""

    def __init__(self, redis_url: str) -> None:
        address = redis.connection.parse_url(redis_url)
        self._upstream = (address.get("host", "127.0.0.1"), int(address.get("port", 6379)))
        self._db = address.get("db", 0)
        self._links: List[dict] = []
        self.refusing = False

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/{self._db}"

    async def close(self) -> None:
        self.cut()
        self._server.close()
        await self._server.wait_closed()

    def freeze(self) -> None:
        """Open connections stop passing bytes either way, without closing: a half-open link."""
        for link in self._links:
            link["frozen"] = True

    def cut(self) -> None:
        for link in self._links:
            for writer in link["writers"]:
                writer.transport.abort()
        self._links.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        link = {"frozen": False, "writers": (writer, up_writer)}
        self._links.append(link)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    while link["frozen"]:
                        await asyncio.sleep(0.01)
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass  # the other side was cut; closing below is all there is to do
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def flaky_link(redis_url: str) -> AsyncIterator[FlakyLink]:
    link = FlakyLink(redis_url)
    await link.start()
    yield link
    await link.close()


async def publish_until_received(
    publisher: PushHub, subscription: Subscription, text: str, within: float = 5.0
) -> PushMessage:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await publisher.publish(subscription.conversation_id, {"text": text})
        try:
            return await next_message(subscription, timeout=0.1)
        except asyncio.TimeoutError:
            assert asyncio.get_running_loop().time() < deadline, "never delivered"


async def test_a_silent_redis_link_is_noticed_by_ping_and_replaced(
    replicas, flaky_link, channel_prefix, caplog
):
    caplog.set_level(logging.INFO, logger="bot.chat.push")
    serving = RedisPushHub(
        flaky_link.url,
        channel_prefix=channel_prefix,
        reconnect_delay=0.05,
        poll_interval=0.05,
        ping_interval=0.2,
        ping_timeout=0.3,
    )
    publishing = await replicas()
    async with serving, serving.subscribe("user-1") as subscription:
        flaky_link.freeze()
        message = await publish_until_received(publishing, subscription, "still there?")
    assert message.reply == {"text": "still there?"}
    lost = [r for r in caplog.records if "lost the Redis pub/sub connection" in r.getMessage()]
    assert lost and "did not answer a ping" in str(lost[0].exc_info[1])


async def test_while_redis_is_down_hubs_say_so_and_catch_up_when_it_returns(
    replicas, flaky_link, channel_prefix, caplog
):
    caplog.set_level(logging.INFO, logger="bot.chat.push")
    serving = RedisPushHub(
        flaky_link.url, channel_prefix=channel_prefix, reconnect_delay=0.05, poll_interval=0.05
    )
    publishing = await replicas()
    async with serving, serving.subscribe("user-1") as first:
        flaky_link.refusing = True
        flaky_link.cut()
        with pytest.raises(PushUnavailable):
            await serving.publish("user-1", {"text": "nobody can take this"})
        # A connection opened during the outage is subscribed on Redis once it is back.
        async with serving.subscribe("user-2") as opened_during_outage:
            for _ in range(100):
                if any("still unreachable" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("no retry was logged during the outage")
            flaky_link.refusing = False
            assert (await publish_until_received(publishing, first, "back")).reply["text"] == (
                "back"
            )
            message = await publish_until_received(publishing, opened_during_outage, "hi")
            assert message.reply == {"text": "hi"}
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the Redis pub/sub connection" in m for m in messages)
    assert any("reconnected to Redis" in m for m in messages)
