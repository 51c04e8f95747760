"""Push: deliver a message into an open conversation later, on whatever connection holds it.

An agent at the handoff desk answers minutes after the customer's last message, and a notice
can come with no message at all, so such a reply cannot ride back on the request that caused
it. Instead, every channel connection that can receive later (the widget socket, the agent
console, a Slack relay) subscribes to its conversation for as long as it is open, and the
server publishes to the conversation id: each open connection of that conversation gets the
message, whichever channel it is and whichever process holds it.

Two hubs keep one contract (`PushHub`):

* `InProcessPushHub`, the embedded default: asyncio, one event loop, one process.
* `RedisPushHub`: Redis pub/sub, so a message published on one Rasa replica reaches a
  connection held by another. Each process holds one pub/sub connection, subscribed to the
  channel of every conversation that has a local connection, so Redis sends a process only
  what it serves; the process fans each message out to its local connections.

Delivery is at most once and nothing is stored: a connection that is not open when a message
is published never sees it (what must survive, such as a handoff transcript, is kept by the
account services). Each connection has a bounded queue; one that stops reading loses its
oldest messages, never the process's memory.

What is pushed is a reply the layer has already rendered for a person, in the layer's reply
shape (`{"text": ..., "buttons": [...], "data": {...}}`). It crosses Redis, which any
operator can watch with MONITOR, so it never carries a token, a secret or a card number. For
the same reason this module logs ids and counts, never message text or the Redis URL (which
may hold a password).

Hubs are built by `push_hub_from_url` at start-up; nothing is created at import.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import random
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Deque, Dict, FrozenSet, Mapping, Optional, Set

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from bot.chat.redis_retry import reconnecting

log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUED = 100
DEFAULT_CHANNEL_PREFIX = "premier:push:"
REDIS_SCHEMES = ("redis://", "rediss://")
PING_MESSAGE = "premier-push-ping"

__all__ = [
    "DEFAULT_CHANNEL_PREFIX",
    "DEFAULT_MAX_QUEUED",
    "InProcessPushHub",
    "PushHub",
    "PushMessage",
    "PushUnavailable",
    "RedisPushHub",
    "Subscription",
    "push_hub_from_url",
]


class PushUnavailable(RuntimeError):
    """The push transport could not take the message (Redis unreachable); it was not sent."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_id() -> str:
    return uuid.uuid4().hex


def _plain_reply(reply: Any) -> Dict[str, Any]:
    """Check the reply shape minimally and copy it through JSON.

    The copy makes an in-process message exactly what a Redis one would be (tuples become
    lists, nothing that JSON cannot carry gets through), and detaches it from the caller's
    dict, which the caller may go on changing.
    """
    if not isinstance(reply, Mapping):
        raise ValueError("a push reply is a mapping with a text")
    if not isinstance(reply.get("text"), str):
        raise ValueError("a push reply's text must be a string")
    if reply.get("buttons") is not None and not isinstance(reply["buttons"], (list, tuple)):
        raise ValueError("a push reply's buttons must be a list")
    if reply.get("data") is not None and not isinstance(reply["data"], Mapping):
        raise ValueError("a push reply's data must be a mapping")
    try:
        plain: Dict[str, Any] = json.loads(
            json.dumps(dict(reply), ensure_ascii=False, allow_nan=False)
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"a push reply must be plain JSON data: {error}") from None
    return plain


@dataclass(frozen=True)
class PushMessage:
    """One rendered reply for one conversation, with its kind, id and time of creation.

    `kind` says who speaks: "agent" (a person at the handoff desk), "notice" (something the
    account services announce), "system" (the layer itself, e.g. "the agent has left"); a
    channel may render them differently. `id` lets a connection that receives a message twice
    (a reconnecting widget) show it once.
    """

    conversation_id: str
    reply: Dict[str, Any]
    kind: str = "agent"
    id: str = field(default_factory=_new_id)
    created_at: dt.datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        for name in ("conversation_id", "kind", "id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"a push message's {name} must be a non-empty string")
        if not isinstance(self.created_at, dt.datetime) or self.created_at.tzinfo is None:
            raise ValueError("a push message's created_at must be a timezone-aware datetime")
        object.__setattr__(self, "reply", _plain_reply(self.reply))

    def to_dict(self) -> Dict[str, Any]:
        """The message as JSON-ready data (what a socket channel can send as it is)."""
        return {
            "conversation_id": self.conversation_id,
            "reply": dict(self.reply),
            "kind": self.kind,
            "id": self.id,
            "created_at": self.created_at.isoformat(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PushMessage:
        """Rebuild a message from `to_dict` output.

        Raises:
            ValueError: a field is missing or malformed (the error names the field, not its value).
        """
        try:
            return cls(
                conversation_id=data["conversation_id"],
                reply=data["reply"],
                kind=data["kind"],
                id=data["id"],
                created_at=dt.datetime.fromisoformat(data["created_at"]),
            )
        except KeyError as error:
            raise ValueError(f"a push message needs {error.args[0]!r}") from None
        except TypeError:
            raise ValueError("a push message's created_at must be an ISO 8601 string") from None

    @classmethod
    def from_json(cls, raw: str | bytes) -> PushMessage:
        """Rebuild a message from `to_json` output; raises ValueError on anything else."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a push message is a JSON object")
        return cls.from_dict(data)


def _worth_logging(dropped: int) -> bool:
    # 1st, 10th, 100th... drop: a stuck connection is reported without a warning per message.
    return dropped == 10 ** (len(str(dropped)) - 1)


class Subscription:
    """One open connection's share of its conversation: an async iterator of `PushMessage`.

    Messages wait in a queue of at most `max_queued` until the connection reads them; when it
    falls further behind, the oldest are dropped and logged, so a stuck socket costs a few old
    notices rather than unbounded memory. Iteration ends once the subscription is closed (its
    `subscribe` block is left or the hub closes) and what was queued has been read. Read it
    from one task.
    """

    def __init__(self, conversation_id: str, max_queued: int) -> None:
        self.conversation_id = conversation_id
        self.max_queued = max_queued
        self.dropped = 0
        self._queue: Deque[PushMessage] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> PushMessage:
        # Cancel-safe: a message leaves the queue only when it is returned.
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def _deliver(self, message: PushMessage) -> bool:
        if self._closed:
            return False
        if len(self._queue) >= self.max_queued:
            oldest = self._queue.popleft()
            self.dropped += 1
            if _worth_logging(self.dropped):
                log.warning(
                    "push: a connection of conversation %s is %d messages behind; dropped "
                    "message %s (the oldest), %d dropped so far",
                    self.conversation_id,
                    self.max_queued,
                    oldest.id,
                    self.dropped,
                )
        self._queue.append(message)
        self._wakeup.set()
        return True

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()


class _LocalSubscriptions:
    """The subscriptions open in this process, by conversation; empty conversations leave."""

    def __init__(self) -> None:
        self._by_conversation: Dict[str, Set[Subscription]] = {}

    def add(self, subscription: Subscription) -> None:
        self._by_conversation.setdefault(subscription.conversation_id, set()).add(subscription)

    def remove(self, subscription: Subscription) -> None:
        subscriptions = self._by_conversation.get(subscription.conversation_id)
        if subscriptions is None:
            return
        subscriptions.discard(subscription)
        if not subscriptions:
            del self._by_conversation[subscription.conversation_id]

    def deliver(self, message: PushMessage) -> int:
        subscriptions = self._by_conversation.get(message.conversation_id, ())
        return sum(1 for subscription in list(subscriptions) if subscription._deliver(message))

    def count(self, conversation_id: Optional[str] = None) -> int:
        if conversation_id is not None:
            return len(self._by_conversation.get(conversation_id, ()))
        return sum(len(subscriptions) for subscriptions in self._by_conversation.values())

    def conversations(self) -> FrozenSet[str]:
        return frozenset(self._by_conversation)

    def close_all(self) -> None:
        for subscriptions in self._by_conversation.values():
            for subscription in subscriptions:
                subscription._close()
        self._by_conversation.clear()


class PushHub(abc.ABC):
    """Publish rendered replies to conversations; subscribe open connections to them.

    Use it between `await hub.start()` and `await hub.close()` (or `async with hub:`), in
    one event loop. Closing ends every open subscription's iteration.
    """

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.max_queued = max_queued
        self._local = _LocalSubscriptions()
        self._state = "new"

    async def start(self) -> None:
        """Get ready to publish and subscribe (connect, for a hub that has to)."""
        if self._state == "closed":
            raise RuntimeError("a closed push hub cannot start again")
        if self._state == "new":
            await self._start()
            self._state = "started"

    async def close(self) -> None:
        """End every subscription and release connections; calling it again does nothing."""
        if self._state == "closed":
            return
        was_started = self._state == "started"
        self._state = "closed"
        self._local.close_all()
        if was_started:
            await self._close()

    async def __aenter__(self) -> PushHub:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def publish(
        self, conversation_id: str, reply: Mapping[str, Any], *, kind: str = "agent"
    ) -> int:
        """Deliver `reply` to every open connection of `conversation_id`.

        Args:
            conversation_id: the conversation, as the layer names it.
            reply: a rendered reply, `{"text": str, "buttons": [...]?, "data": {...}?}`; never
                a token or a secret (see the module docstring).
            kind: "agent", "notice", "system", ...
        Returns:
            How many it reached: local connections in process; for Redis, the processes
            subscribed to the conversation.
        Raises:
            ValueError: the reply is not in the reply shape.
            PushUnavailable: the transport could not take it.
        """
        self._require_started()
        return await self._publish(
            PushMessage(conversation_id=conversation_id, reply=_plain_reply(reply), kind=kind)
        )

    @contextlib.asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[Subscription]:
        """Receive the conversation's messages for as long as the block runs (one connection).

        When the block is entered, a message published from then on reaches it (for Redis:
        once Redis has confirmed the subscription, or after a warning if it does not in time).
        """
        self._require_started()
        if not isinstance(conversation_id, str) or not conversation_id:
            raise ValueError("a subscription needs a conversation id")
        subscription = Subscription(conversation_id, self.max_queued)
        self._local.add(subscription)
        try:
            await self._joined(conversation_id)
            yield subscription
        finally:
            subscription._close()
            self._local.remove(subscription)
            if self._state == "started":
                await self._left(conversation_id)

    def conversations(self) -> FrozenSet[str]:
        """Conversations with at least one open subscription in this process."""
        return self._local.conversations()

    def subscription_count(self, conversation_id: Optional[str] = None) -> int:
        """Open subscriptions in this process (of one conversation, or of all)."""
        return self._local.count(conversation_id)

    def _require_started(self) -> None:
        if self._state != "started":
            raise RuntimeError(f"the push hub is {self._state}; start() it before use")

    @abc.abstractmethod
    async def _joined(self, conversation_id: str) -> None:
        """A subscription of `conversation_id` was added (called for each one)."""

    @abc.abstractmethod
    async def _left(self, conversation_id: str) -> None:
        """A subscription of `conversation_id` was removed (called for each one)."""

    @abc.abstractmethod
    async def _start(self) -> None: ...

    @abc.abstractmethod
    async def _close(self) -> None: ...

    @abc.abstractmethod
    async def _publish(self, message: PushMessage) -> int: ...


class InProcessPushHub(PushHub):
    """Push within one process and event loop: the embedded default (one Rasa process).

    Publish from the loop's own thread; delivery is immediate (into each connection's queue).
    """

    async def _start(self) -> None:
        pass

    async def _close(self) -> None:
        pass

    async def _joined(self, conversation_id: str) -> None:
        pass

    async def _left(self, conversation_id: str) -> None:
        pass

    async def _publish(self, message: PushMessage) -> int:
        return self._local.deliver(message)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _settle_with(waiter: asyncio.Future[None], _done: asyncio.Future[None]) -> None:
    _settle(waiter)


class RedisPushHub(PushHub):
    """Push across processes (Rasa replicas) through Redis pub/sub: one channel per conversation.

    Each hub holds one pub/sub connection, read by one task, and subscribes it to
    `channel_prefix + conversation_id` while the process has a connection of that
    conversation (channels rather than one pattern, so Redis sends each process only what it
    serves and no conversation id needs escaping). When the connection drops, the reader
    logs it, waits (doubling from `reconnect_delay` up to `max_reconnect_delay`), reconnects
    and subscribes again; messages published meanwhile are lost, as pub/sub does not keep
    them. A connection that stops answering (no reply to a ping within `ping_timeout`) is
    treated as dropped.
    """

    def __init__(
        self,
        url: str,
        channel_prefix: str = DEFAULT_CHANNEL_PREFIX,
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        client_name: str = "premier-push",
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 10.0,
        confirm_timeout: float = 5.0,
        ping_interval: float = 15.0,
        ping_timeout: float = 10.0,
        poll_interval: float = 1.0,
        socket_timeout: float = 5.0,
    ) -> None:
        super().__init__(max_queued=max_queued)
        if not isinstance(url, str) or not url.startswith(REDIS_SCHEMES):
            raise ValueError("a Redis push hub needs a redis:// or rediss:// URL")
        if not channel_prefix:
            raise ValueError("a Redis push hub needs a channel prefix")
        self.channel_prefix = channel_prefix
        self.client_name = client_name
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.confirm_timeout = confirm_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.poll_interval = poll_interval
        self.socket_timeout = socket_timeout
        self._url = url
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: Optional[asyncio.Task[None]] = None
        # Held while a command is sent on the pub/sub connection or the connection is replaced,
        # so `_subscribed` is always what Redis was asked for, in the order it was asked.
        self._lock = asyncio.Lock()
        self._subscribed: Set[str] = set()
        # Per channel, one future per SUBSCRIBE sent and not yet confirmed, oldest first.
        self._confirmations: Dict[str, Deque[asyncio.Future[None]]] = {}
        self._last_heard = 0.0
        self._ping_sent_at: Optional[float] = None
        self._broken = False

    def channel(self, conversation_id: str) -> str:
        """The Redis channel of a conversation."""
        return self.channel_prefix + conversation_id

    async def _start(self) -> None:
        self._redis = aioredis.from_url(
            self._url,
            decode_responses=True,
            client_name=self.client_name,
            socket_connect_timeout=self.socket_timeout,
            socket_timeout=self.socket_timeout,
            socket_keepalive=True,
            **reconnecting(),
        )
        try:
            await self._connect()
        except (RedisError, OSError) as error:
            # A wrong address should stop start-up, not become a retry loop nobody reads.
            await self._redis.close(close_connection_pool=True)
            raise PushUnavailable("cannot reach Redis for push (check REDIS_URL)") from error
        self._reader = asyncio.create_task(self._read_forever(), name="push-redis-reader")

    async def _close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])
            self._reader = None
        await self._disconnect()
        for waiters in self._confirmations.values():
            for waiter in waiters:
                _settle(waiter)
        self._confirmations.clear()
        await self._redis.close(close_connection_pool=True)

    async def _publish(self, message: PushMessage) -> int:
        try:
            reached = await self._redis.publish(
                self.channel(message.conversation_id), message.to_json()
            )
        except (RedisError, OSError) as error:
            raise PushUnavailable("Redis is unreachable; the message was not pushed") from error
        return int(reached)

    async def _joined(self, conversation_id: str) -> None:
        confirmation = await self._sync(conversation_id)
        if confirmation is None or confirmation.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(confirmation), self.confirm_timeout)
        except asyncio.TimeoutError:
            log.warning(
                "push: Redis did not confirm the subscription of conversation %s within "
                "%.1fs; messages published before it does are missed",
                conversation_id,
                self.confirm_timeout,
            )

    async def _left(self, conversation_id: str) -> None:
        await self._sync(conversation_id)

    async def _sync(self, conversation_id: str) -> Optional[asyncio.Future[None]]:
        """Make the pub/sub connection's subscription match the local ones for a conversation.

        Returns the confirmation to wait for when the conversation is (being) subscribed.
        """
        channel = self.channel(conversation_id)
        async with self._lock:
            wanted = self._local.count(conversation_id) > 0
            if self._pubsub is None:
                return None  # disconnected: the reader subscribes what is wanted on reconnect
            try:
                if wanted and channel not in self._subscribed:
                    self._expect_confirmation(channel)
                    self._subscribed.add(channel)
                    await self._pubsub.subscribe(channel)
                elif not wanted and channel in self._subscribed:
                    self._subscribed.discard(channel)
                    await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                # Left alone, redis-py would reconnect this connection by itself and resubscribe
                # only what it had confirmed sending; the reader replaces it instead.
                self._broken = True
                log.warning(
                    "push: could not %s conversation %s on Redis; it is retried on reconnect",
                    "subscribe" if wanted else "unsubscribe",
                    conversation_id,
                    exc_info=True,
                )
                return None
            waiters = self._confirmations.get(channel)
            return waiters[-1] if wanted and waiters else None

    def _expect_confirmation(self, channel: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(channel, deque()).append(future)
        return future

    def _confirmed(self, channel: str) -> None:
        waiters = self._confirmations.get(channel)
        if not waiters:
            return
        _settle(waiters.popleft())
        if not waiters:
            del self._confirmations[channel]

    async def _connect(self) -> None:
        """Open a fresh pub/sub connection subscribed to every locally open conversation."""
        async with self._lock:
            pubsub = self._redis.pubsub()
            channels = sorted(self.channel(c) for c in self._local.conversations())
            try:
                await pubsub.connect()
                if channels:
                    await pubsub.subscribe(*channels)
            except BaseException:
                await self._reset_quietly(pubsub)
                raise
            # SUBSCRIBEs sent on the dead connection will never be confirmed; the one just
            # sent on this connection stands for them.
            stale, self._confirmations = self._confirmations, {}
            for channel in channels:
                confirmation = self._expect_confirmation(channel)
                for waiter in stale.pop(channel, ()):
                    confirmation.add_done_callback(functools.partial(_settle_with, waiter))
            for waiters in stale.values():
                for waiter in waiters:
                    _settle(waiter)
            self._pubsub = pubsub
            self._subscribed = set(channels)
            self._last_heard = asyncio.get_running_loop().time()
            self._ping_sent_at = None
            self._broken = False

    async def _disconnect(self) -> None:
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            self._subscribed = set()
        if pubsub is not None:
            await self._reset_quietly(pubsub)

    @staticmethod
    async def _reset_quietly(pubsub: Any) -> None:
        try:
            await pubsub.reset()
        except (RedisError, OSError):
            # Closing a connection already known to be broken; the breakage itself was logged.
            log.debug("push: error while closing a broken Redis connection", exc_info=True)

    async def _read_forever(self) -> None:
        """The one reader of the pub/sub connection; reconnects with backoff when it drops."""
        delay = self.reconnect_delay
        failures = 0
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                    log.info(
                        "push: reconnected to Redis after %d failed attempt(s); %d conversation(s) "
                        "subscribed again",
                        failures,
                        len(self._subscribed),
                    )
                    failures, delay = 0, self.reconnect_delay
                await self._read_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                wait = delay * random.uniform(0.8, 1.2)  # replicas do not all retry at once
                if failures == 1:
                    log.warning(
                        "push: lost the Redis pub/sub connection (%s); reconnecting in %.2fs. "
                        "Messages published until then are not delivered here",
                        type(error).__name__,
                        wait,
                        exc_info=True,
                    )
                else:
                    log.warning(
                        "push: Redis still unreachable (%s, attempt %d); next try in %.2fs",
                        type(error).__name__,
                        failures,
                        wait,
                    )
                await self._disconnect()
                await asyncio.sleep(wait)
                delay = min(delay * 2, self.max_reconnect_delay)

    async def _read_once(self) -> None:
        pubsub = self._pubsub
        if self._broken:
            raise RedisConnectionError("a command on the Redis pub/sub connection failed")
        message = await pubsub.get_message(timeout=self.poll_interval)
        loop = asyncio.get_running_loop()
        if message is not None:
            self._last_heard = loop.time()
            self._ping_sent_at = None
            self._handle(message)
            return
        if self._ping_sent_at is not None:
            if loop.time() - self._ping_sent_at > self.ping_timeout:
                raise RedisConnectionError("Redis did not answer a ping")
        elif loop.time() - self._last_heard > self.ping_interval:
            async with self._lock:
                # Only while subscribed: the answer is then a pub/sub "pong" message.
                if self._subscribed and self._pubsub is pubsub:
                    await pubsub.ping(PING_MESSAGE)
                    self._ping_sent_at = loop.time()

    def _handle(self, message: Mapping[str, Any]) -> None:
        kind, channel = message.get("type"), message.get("channel")
        if kind == "subscribe" and isinstance(channel, str):
            self._confirmed(channel)
        if kind != "message" or not isinstance(channel, str):
            return
        try:
            push = PushMessage.from_json(message["data"])
        except ValueError as error:
            log.warning("push: dropped a malformed message on channel %s: %s", channel, error)
            return
        if self.channel(push.conversation_id) != channel:
            log.warning(
                "push: dropped message %s: it names another conversation than its channel %s",
                push.id,
                channel,
            )
            return
        self._local.deliver(push)


def push_hub_from_url(url: Optional[str], *, max_queued: int = DEFAULT_MAX_QUEUED) -> PushHub:
    """The hub the REDIS_URL setting asks for: empty for in-process, redis:// for Redis.

    Raises:
        ValueError: any other URL; the message names REDIS_URL and the scheme only, since the
            URL may hold a password.
    """
    url = (url or "").strip()
    if not url:
        return InProcessPushHub(max_queued=max_queued)
    if url.startswith(REDIS_SCHEMES):
        return RedisPushHub(url, max_queued=max_queued)
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]{0,19}://", url)
    raise ValueError(
        "REDIS_URL must be empty (push within one process) or a redis:// or rediss:// URL, "
        f"not {scheme.group(0) + '...' if scheme else 'a URL without a scheme'}"
    )
