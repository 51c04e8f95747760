"""Rasa's Redis lock store, configured from `Settings.redis_url` (no password in a file)."""

from __future__ import annotations

from typing import Any

from rasa.core.lock_store import RedisLockStore
from redis.connection import parse_url

from bot.settings import load_settings

KEY_PREFIX = "premier"


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
