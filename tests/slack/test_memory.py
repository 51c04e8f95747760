"""Acting once: an event id or a click is taken the first time only, in process and in Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis

from bot.slack.memory import Memory, RedisMemory

REDIS_URL = "redis://127.0.0.1:6379/3"


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")


@pytest.fixture(params=["memory", "redis"])
async def memory(request):
    if request.param == "memory":
        store = Memory(ttl=60)
    else:
        _redis_or_skip()
        store = RedisMemory(REDIS_URL, ttl=60)
    yield store
    await store.close()


async def test_a_key_is_first_once(memory):
    key = f"event:{uuid.uuid4().hex}"
    assert not await memory.seen(key)
    assert await memory.first(key) is True
    assert await memory.first(key) is False
    assert await memory.seen(key)


async def test_of_many_concurrent_clicks_exactly_one_is_first(memory):
    key = f"click:{uuid.uuid4().hex}"
    results = await asyncio.gather(*(memory.first(key) for _ in range(20)))
    assert results.count(True) == 1


async def test_two_processes_sharing_redis_agree():
    _redis_or_skip()
    one, two = RedisMemory(REDIS_URL), RedisMemory(REDIS_URL)
    key = f"event:{uuid.uuid4().hex}"
    try:
        assert await one.first(key) is True
        assert await two.first(key) is False
    finally:
        await one.close()
        await two.close()


async def test_a_key_is_forgotten_after_its_time():
    memory = Memory(ttl=0)
    assert await memory.first("event:x") is True
    assert await memory.first("event:x") is True
