"""What the Slack app must remember briefly: events and clicks already acted on, threads it is in.

Slack re-sends an event it thinks was not acknowledged (`X-Slack-Retry-Num`) and a person
can click a button twice; both must act once. `first(key)` answers True exactly once per key
(for `ttl` seconds): in-process by default, in Redis (`SET NX`) when `REDIS_URL` is set, so
that several Slack app processes agree.
"""

from __future__ import annotations

import time
from typing import Dict, Optional

import redis.asyncio as aioredis

DEFAULT_TTL = 24 * 3600
MAX_KEYS = 100_000
PREFIX = "premier:slack:"


class Memory:
    """In-process: one dict of key -> expiry, bounded (the oldest half goes when it is full)."""

    def __init__(self, ttl: int = DEFAULT_TTL):
        self._ttl = ttl
        self._until: Dict[str, float] = {}

    async def first(self, key: str) -> bool:
        """True the first time `key` is seen (within the ttl), False every later time."""
        now = time.monotonic()
        if self._until.get(key, 0.0) > now:
            return False
        if len(self._until) >= MAX_KEYS:
            for old in sorted(self._until, key=self._until.__getitem__)[: MAX_KEYS // 2]:
                del self._until[old]
        self._until[key] = now + self._ttl
        return True

    async def seen(self, key: str) -> bool:
        """Whether `key` was marked by `first` (and has not expired); marks nothing."""
        return self._until.get(key, 0.0) > time.monotonic()

    async def close(self) -> None:
        self._until.clear()


class RedisMemory(Memory):
    """The same contract in Redis, shared by every Slack app process."""

    def __init__(self, url: str, ttl: int = DEFAULT_TTL):
        super().__init__(ttl)
        self._redis = aioredis.from_url(url)

    async def first(self, key: str) -> bool:
        return bool(await self._redis.set(PREFIX + key, b"1", nx=True, ex=self._ttl))

    async def seen(self, key: str) -> bool:
        return bool(await self._redis.exists(PREFIX + key))

    async def close(self) -> None:
        await self._redis.close()


def memory_from_url(url: Optional[str]) -> Memory:
    return RedisMemory(url) if url else Memory()
