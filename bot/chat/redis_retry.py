"""How our asyncio Redis clients survive a Redis restart: each command tries again.

A restart closes every pooled connection; without a retry the first command on each stale
connection fails (a handoff announcement lost, a held conversation unread). With it, the
command is sent again on a new connection, backing off 0.1, 0.2, 0.4 ... 2 s, for about
10 seconds in all, before the error reaches the caller. The lock store's client is one of
them (bot/chat/lock_store.py).
"""

from __future__ import annotations

from typing import Any, Dict

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


def reconnecting() -> Dict[str, Any]:
    """Keyword arguments for `redis.asyncio.from_url` (a fresh Retry per client)."""
    return {
        "retry": Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=8),
        "retry_on_error": [RedisConnectionError],
    }
