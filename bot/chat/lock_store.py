"""Rasa's Redis lock store, configured from `Settings.redis_url` (no password in a file)."""

from __future__ import annotations

from typing import Any

import redis
from rasa.core.lock_store import RedisLockStore
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from bot.settings import load_settings

KEY_PREFIX = "premier"
# A Redis restart drops every pooled connection: each command tries again on a new one, for
# about 10 seconds in all (0.1, 0.2, 0.4 ... capped at 2 s), before a turn fails.
RECONNECT = Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=8)


class SettingsRedisLockStore(RedisLockStore):
    """`lock_store: type: bot.chat.lock_store.SettingsRedisLockStore` in the endpoints.

    One lock per conversation across every Rasa replica, so two messages of one
    conversation are never processed at the same time.
    """

    def __init__(self, endpoint_config: Any = None, **_: Any) -> None:
        url = load_settings().redis_url
        if not url:
            raise ValueError("the Redis lock store needs REDIS_URL")
        options = parse_url(url)
        super().__init__(
            host=options.get("host", "localhost"),
            port=int(options.get("port", 6379)),
            db=int(options.get("db", 0)),
            username=options.get("username"),
            password=options.get("password"),
            use_ssl=url.startswith("rediss://"),
            key_prefix=KEY_PREFIX,
        )
        # Rasa's client gives up on the first dropped connection; this one reconnects.
        self.red = redis.StrictRedis(
            host=options.get("host", "localhost"),
            port=int(options.get("port", 6379)),
            db=int(options.get("db", 0)),
            username=options.get("username"),
            password=options.get("password"),
            ssl=url.startswith("rediss://"),
            retry=RECONNECT,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )
