"""Which conversations a person at the desk holds, as every replica of the Rasa server sees it.

The account services know every handoff, but asking them on every message would cost each
message a round trip for the rare conversation that is held. So the process that sees a
handoff open marks its conversation here, and the layer asks only about marked ones; the
services stay the authority (a mark whose handoff turns out closed is removed).

In one process a dict does; with several replicas (REDIS_URL) the marks are a Redis hash, so a
customer whose next message reaches another replica is still held. `first_time` lets exactly
one replica announce a given change to the customer.
"""

from __future__ import annotations

import abc
from typing import Dict, Optional, Set

import redis.asyncio as aioredis

from bot.chat.redis_retry import reconnecting

HASH_KEY = "premier:handoff:held"
ANNOUNCED_PREFIX = "premier:handoff:announced:"
ANNOUNCED_TTL_SECONDS = 24 * 3600


class HeldConversations(abc.ABC):
    """conversation id -> the id of the handoff that holds it."""

    async def start(self) -> None:  # noqa: B027 - optional: only a store that connects has work
        """Connect, for a store that has to."""

    async def close(self) -> None:  # noqa: B027 - optional, as start()
        """Release connections."""

    @abc.abstractmethod
    async def get(self, conversation: str) -> Optional[int]: ...

    @abc.abstractmethod
    async def put(self, conversation: str, handoff_id: int) -> None: ...

    @abc.abstractmethod
    async def drop(self, conversation: str, handoff_id: int) -> None:
        """Unmark the conversation if `handoff_id` still holds it (a newer handoff stays)."""

    @abc.abstractmethod
    async def first_time(self, key: str) -> bool:
        """True for the first caller with this key, in every replica; False after."""


class InProcessHeld(HeldConversations):
    def __init__(self) -> None:
        self._held: Dict[str, int] = {}
        self._announced: Set[str] = set()

    async def get(self, conversation: str) -> Optional[int]:
        return self._held.get(conversation)

    async def put(self, conversation: str, handoff_id: int) -> None:
        self._held[conversation] = handoff_id

    async def drop(self, conversation: str, handoff_id: int) -> None:
        if self._held.get(conversation) == handoff_id:
            del self._held[conversation]

    async def first_time(self, key: str) -> bool:
        if key in self._announced:
            return False
        self._announced.add(key)
        return True


class RedisHeld(HeldConversations):
    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: Optional[aioredis.Redis] = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = aioredis.from_url(self._url, decode_responses=True, **reconnecting())
        return self._redis

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.close()
            self._redis = None

    async def get(self, conversation: str) -> Optional[int]:
        value = await self.redis.hget(HASH_KEY, conversation)
        return int(value) if value else None

    async def put(self, conversation: str, handoff_id: int) -> None:
        await self.redis.hset(HASH_KEY, conversation, str(handoff_id))

    async def drop(self, conversation: str, handoff_id: int) -> None:
        # Compare-and-delete in one step, so a handoff opened meanwhile keeps its mark.
        await self.redis.eval(
            "if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then "
            "return redis.call('hdel', KEYS[1], ARGV[1]) end return 0",
            1,
            HASH_KEY,
            conversation,
            str(handoff_id),
        )

    async def first_time(self, key: str) -> bool:
        return bool(
            await self.redis.set(ANNOUNCED_PREFIX + key, "1", nx=True, ex=ANNOUNCED_TTL_SECONDS)
        )


def held_from_url(url: Optional[str]) -> HeldConversations:
    """Redis when REDIS_URL is set (several replicas), else this process only."""
    return RedisHeld(url) if url else InProcessHeld()
