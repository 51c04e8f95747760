"""The Redis lock store: one turn at a time per conversation, in order, across replicas.

Each "replica" here is a store of its own (its own connections), as two Rasa processes have.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator, List

import pytest
import pytest_asyncio
import redis
from rasa.core.lock_store import LockError

from bot.chat.lock_store import KEY_PREFIX, SettingsRedisLockStore

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not redis_is_up(), reason="no Redis at 127.0.0.1:6379")


@pytest_asyncio.fixture
async def replicas() -> AsyncIterator[List[SettingsRedisLockStore]]:
    stores = [SettingsRedisLockStore(url=REDIS_URL) for _ in range(2)]
    yield stores
    for store in stores:
        await store.close()


def conversation() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_turns_of_one_conversation_never_overlap_and_keep_their_order(replicas):
    sender = conversation()
    holding: List[int] = []
    order: List[int] = []
    overlaps = 0

    async def turn(number: int) -> None:
        nonlocal overlaps
        async with replicas[number % 2].lock(sender):
            overlaps += bool(holding)
            holding.append(number)
            order.append(number)
            await asyncio.sleep(0.03)
            holding.remove(number)

    tasks = []
    for number in range(6):
        tasks.append(asyncio.create_task(turn(number)))
        await asyncio.sleep(0.005)  # each message arrives a little after the one before
    await asyncio.gather(*tasks)
    assert overlaps == 0
    assert order == list(range(6))


async def test_other_conversations_do_not_wait(replicas):
    busy, free = conversation(), conversation()
    # would wait for the busy one's whole turn (or time out) if the locks were shared
    async with replicas[0].lock(busy), replicas[1].lock(free):
        pass


async def test_a_turn_leaves_nothing_behind_but_a_counter_that_expires(replicas):
    sender = conversation()
    async with replicas[0].lock(sender, lock_lifetime=30):
        pass
    raw = redis.Redis.from_url(REDIS_URL)
    assert raw.exists(f"{KEY_PREFIX}{sender}") == 0
    assert 0 < raw.pttl(f"{KEY_PREFIX}{sender}:next") <= 30_000


async def test_a_replica_that_died_holding_a_conversation_frees_it_when_the_ticket_expires(
    replicas,
):
    sender = conversation()
    crashed = replicas[0].lock(sender, lock_lifetime=0.3)
    await crashed.__aenter__()  # and never leaves: the process died mid-turn
    started = asyncio.get_running_loop().time()
    async with replicas[1].lock(sender):
        waited = asyncio.get_running_loop().time() - started
    assert 0.2 <= waited < 2


async def test_a_waiting_ticket_that_expires_is_a_lock_error_and_frees_its_place(replicas):
    sender = conversation()
    async with replicas[0].lock(sender, lock_lifetime=30):
        with pytest.raises(LockError):
            async with replicas[1].lock(sender, lock_lifetime=0.2):
                pass
    async with replicas[1].lock(sender):  # nobody is left in the queue
        pass


async def test_a_cancelled_turn_frees_the_conversation_at_once(replicas):
    sender = conversation()
    entered = asyncio.Event()

    async def slow_turn() -> None:
        async with replicas[0].lock(sender, lock_lifetime=30):
            entered.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(slow_turn())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(replicas[1].lock(sender).__aenter__(), timeout=1)


async def test_an_uncontended_turn_is_two_commands(replicas):
    store = replicas[0]
    sender = conversation()
    async with store.lock(sender):  # the first use loads the script
        pass
    sent: List[str] = []
    execute = store.client.execute_command

    async def counted(*args, **options):
        sent.append(str(args[0]).upper())
        return await execute(*args, **options)

    store.client.execute_command = counted
    async with store.lock(sender):
        pass
    assert sent == ["EVALSHA", "ZREM"]
