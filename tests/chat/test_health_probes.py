"""A Rasa replica is ready only with its model loaded and its stores answering."""

from __future__ import annotations

from types import SimpleNamespace

import redis
import sqlalchemy as sa

from bot.channels.health import not_ready


class Agent(SimpleNamespace):
    def is_ready(self) -> bool:
        return True


def sqlite_store(tmp_path):  # type: ignore[no-untyped-def]
    return SimpleNamespace(engine=sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}"))


async def test_no_model_is_not_ready():
    assert await not_ready(None) == ["model"]


async def test_answering_stores_are_ready(tmp_path):
    wrapped = SimpleNamespace(_tracker_store=sqlite_store(tmp_path))  # Rasa's fail-safe wrapper
    lock_store = SimpleNamespace(red=redis.Redis(host="127.0.0.1", port=6379))
    try:
        lock_store.red.ping()
    except redis.RedisError:
        lock_store = SimpleNamespace()  # no Redis here: the in-memory lock store
    assert await not_ready(Agent(tracker_store=wrapped, lock_store=lock_store)) == []


async def test_unreachable_stores_are_named(tmp_path):
    gone = SimpleNamespace(engine=sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/x"))
    lock_store = SimpleNamespace(red=redis.Redis(host="127.0.0.1", port=9, socket_timeout=0.5))
    missing = await not_ready(Agent(tracker_store=gone, lock_store=lock_store))
    assert missing == ["tracker store", "lock store"]
