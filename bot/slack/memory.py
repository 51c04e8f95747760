"""What the Slack app must remember briefly: events and clicks already acted on, threads it is in.

Slack re-sends an event it thinks was not acknowledged (`X-Slack-Retry-Num`) and a person
can click a button twice; both must act once. `first(key)` answers True exactly once per key
(for `ttl` seconds): in-process by default, in Redis (`SET NX`) when `REDIS_URL` is set, so
that several Slack app processes agree.

`remember(key, record)` / `recall(key)` / `drop(key)` keep a small JSON record per key the
same two ways (the handoff desk's support messages and threads, `bot.slack.desk`).
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional, Tuple

import redis.asyncio as aioredis

from bot.chat.redis_retry import reconnecting

DEFAULT_TTL = 24 * 3600
MAX_KEYS = 100_000
PREFIX = "premier:slack:"
RECORD_PREFIX = PREFIX + "record:"


class Memory:
    """In-process: one dict of key -> expiry, bounded (the oldest half goes when it is full)."""

    def __init__(self, ttl: int = DEFAULT_TTL):
        self._ttl = ttl
        self._until: Dict[str, float] = {}
        self._records: Dict[str, Tuple[float, str]] = {}

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

    async def remember(self, key: str, record: Dict[str, Any], ttl: Optional[int] = None) -> None:
        """Keep `record` (plain JSON data) under `key` for `ttl` seconds (default: the memory's)."""
        if len(self._records) >= MAX_KEYS:
            for old in sorted(self._records, key=lambda k: self._records[k][0])[: MAX_KEYS // 2]:
                del self._records[old]
        expiry = time.monotonic() + (self._ttl if ttl is None else ttl)
        self._records[key] = (expiry, json.dumps(record))

    async def recall(self, key: str) -> Optional[Dict[str, Any]]:
        """The record kept under `key`, or None (never kept, dropped or expired)."""
        entry = self._records.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        record: Dict[str, Any] = json.loads(entry[1])
        return record

    async def drop(self, key: str) -> None:
        self._records.pop(key, None)

    async def close(self) -> None:
        self._until.clear()
        self._records.clear()


class RedisMemory(Memory):
    """The same contract in Redis, shared by every Slack app process."""

    def __init__(self, url: str, ttl: int = DEFAULT_TTL):
        super().__init__(ttl)
        self._redis = aioredis.from_url(url, **reconnecting())

    async def first(self, key: str) -> bool:
        return bool(await self._redis.set(PREFIX + key, b"1", nx=True, ex=self._ttl))

    async def seen(self, key: str) -> bool:
        return bool(await self._redis.exists(PREFIX + key))

    async def remember(self, key: str, record: Dict[str, Any], ttl: Optional[int] = None) -> None:
        await self._redis.set(
            RECORD_PREFIX + key, json.dumps(record), ex=self._ttl if ttl is None else ttl
        )

    async def recall(self, key: str) -> Optional[Dict[str, Any]]:
        raw = await self._redis.get(RECORD_PREFIX + key)
        if raw is None:
            return None
        record: Dict[str, Any] = json.loads(raw)
        return record

    async def drop(self, key: str) -> None:
        await self._redis.delete(RECORD_PREFIX + key)

    async def close(self) -> None:
        await self._redis.close()


def memory_from_url(url: Optional[str]) -> Memory:
    return RedisMemory(url) if url else Memory()
