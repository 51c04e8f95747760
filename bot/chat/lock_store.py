"""One lock per conversation across every Rasa replica, in Redis, taken without blocking.

Rasa's `RedisLockStore` keeps each conversation's ticket lock as one JSON value and reads and
writes it with a synchronous client: about seven round trips per message (issue a ticket:
GET then SET; acquire: GET; finish: GET, SET, GET, DEL), each one blocking the event loop
that serves every other conversation, and two replicas issuing tickets at the same moment can
both read the old value and hand out the same ticket (GET then SET is not atomic). Under load
it was a fifth of the Rasa process's busy time (`make bench`).

This store keeps Rasa's semantics (first come, first served; a ticket expires after
`lock_lifetime` so a crashed replica cannot hold a conversation forever; `LockError` when a
ticket expired before its turn) in two atomic steps on an asyncio client:

- take a ticket: one Lua script drops expired tickets, numbers the new one (INCR) and
  answers whether it is the lowest live ticket, i.e. whether the turn may start now;
- give it back: ZREM.

Tickets live in a sorted set scored by their expiry in Redis's own clock (`TIME`), so
replicas whose clocks differ still agree. A waiting turn asks again every 20 ms (Rasa's
store waits a whole second between attempts).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Optional

import redis
import redis.asyncio
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bot.chat.redis_retry import reconnecting
from bot.settings import load_settings

KEY_PREFIX = "premier:lock:"
POLL_SECONDS = 0.02

# KEYS: tickets (sorted set: ticket -> expiry in ms), counter. ARGV: lifetime in ms.
# Answers {ticket, 1 when it is the lowest live ticket else 0}.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local life = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ticket = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now + life, ticket)
redis.call('PEXPIRE', KEYS[1], life)
redis.call('PEXPIRE', KEYS[2], life)
for _, other in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if tonumber(other) < ticket then return {ticket, 0} end
end
return {ticket, 1}
"""
# KEYS: tickets. ARGV: ticket. Answers 1 (its turn), 0 (wait) or -1 (it expired).
_CHECK = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ticket = tonumber(ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
for _, other in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if tonumber(other) < ticket then return 0 end
end
return 1
"""


class SettingsRedisLockStore(LockStore):
    """`lock_store: type: bot.chat.lock_store.SettingsRedisLockStore` in the endpoints."""

    def __init__(self, endpoint_config: Any = None, url: Optional[str] = None, **_: Any) -> None:
        url = url or load_settings().redis_url
        if not url:
            raise ValueError("the Redis lock store needs REDIS_URL")
        self.client = redis.asyncio.from_url(url, **reconnecting())
        self._take = self.client.register_script(_TAKE)
        self._check = self.client.register_script(_CHECK)
        # The readiness probe pings from a thread of its own (bot/channels/health.py), on a
        # connection of its own, so a probe never waits behind the turns.
        self.red = redis.Redis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=8),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )

    @staticmethod
    def _keys(conversation_id: str) -> list:
        return [f"{KEY_PREFIX}{conversation_id}", f"{KEY_PREFIX}{conversation_id}:next"]

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Hold the conversation for one turn; later messages wait for it, in order."""
        tickets, counter = self._keys(conversation_id)
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        try:
            ticket, now_serving = await self._take(keys=[tickets, counter], args=[lifetime_ms])
        except redis.RedisError as error:
            raise LockError(f"Could not take a ticket for '{conversation_id}': {error}") from error
        try:
            while not now_serving:
                await asyncio.sleep(min(POLL_SECONDS, wait_time_in_seconds))
                state = await self._check(keys=[tickets], args=[ticket])
                if state == -1:
                    raise LockError(
                        f"The ticket for conversation '{conversation_id}' expired while waiting."
                    )
                now_serving = state == 1
            expires = time.time() + lock_lifetime
            yield TicketLock(conversation_id, deque([Ticket(int(ticket), expires)]))
        finally:
            await self._give_back(tickets, int(ticket))

    async def _give_back(self, tickets: str, ticket: int) -> None:
        # Shielded: a turn cancelled mid-way (a client that went away) still frees the
        # conversation at once instead of holding it for the ticket's whole lifetime.
        await asyncio.shield(self.client.zrem(tickets, ticket))

    async def close(self) -> None:
        await self.client.close()
        self.red.close()
