"""Rasa's SQL tracker store, configured from the settings, that never writes a secret.

Before a conversation is saved (or streamed to an event broker) every event is
cleaned in place: the transient metadata fields (the turn's token, see
`bot.chat.metadata`) are removed from user messages and from the
`session_started_metadata` slot, and card numbers or tokens a person typed are
redacted from the text. Rasa saves a tracker once, at the end of a turn, after
the actions ran: they still received the token, and nothing stored holds it.

The database comes from `Settings.tracker_store_url` (SQLite in var/ by default,
PostgreSQL in production), so the endpoints file names no address or password.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Optional, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs, is_postgresql_url
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.chat.metadata import without_transient
from bot.chat.redact import redact
from bot.files import private_sqlite_file
from bot.settings import load_settings

SESSION_METADATA_SLOT = "session_started_metadata"
# How long a read or write of a conversation keeps trying while the database is away (a
# PostgreSQL restart takes a few seconds). Rasa's fail-safe wrapper would otherwise answer
# a failed read with a blank conversation and keep a failed write in memory only.
RECONNECT_SECONDS = 15.0
log = logging.getLogger(__name__)
T = TypeVar("T")


def clean_event(event: Any) -> None:
    """Remove what must never be stored from one event, in place."""
    if isinstance(event, UserUttered):
        event.metadata = without_transient(event.metadata)
        if event.text:
            event.text = redact(event.text)
        if isinstance(event.parse_data, dict):
            if "metadata" in event.parse_data:
                event.parse_data["metadata"] = without_transient(event.parse_data["metadata"])
            if isinstance(event.parse_data.get("text"), str):
                event.parse_data["text"] = redact(event.parse_data["text"])
    elif isinstance(event, SlotSet) and event.key == SESSION_METADATA_SLOT:
        event.value = without_transient(event.value)
    elif isinstance(event, BotUttered) and event.text:
        event.text = redact(event.text)


class PrivateSQLTrackerStore(SQLTrackerStore):
    """`tracker_store: type: bot.chat.tracker_store.PrivateSQLTrackerStore` in the endpoints."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        event_broker: Any = None,
        url: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as `host`; the settings decide
        target = url or load_settings().tracker_store_url
        private_sqlite_file(target)
        super().__init__(domain=domain, host=target, event_broker=event_broker, **kwargs)
        rasa_engine: Any = getattr(self, "engine")  # noqa: B009 - typed by Rasa at runtime only
        if is_postgresql_url(rasa_engine.url):
            # Rasa's engine keeps pooled connections that a database restart has closed;
            # a pinged pool replaces them before use instead of failing the next turn.
            url = rasa_engine.url
            rasa_engine.dispose()
            self.engine = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
            self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        for event in tracker.events:
            clean_event(event)
        await self._reconnecting(lambda: super(PrivateSQLTrackerStore, self).save(tracker))

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        return await self._reconnecting(
            lambda: super(PrivateSQLTrackerStore, self).retrieve(sender_id)
        )

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        return await self._reconnecting(
            lambda: super(PrivateSQLTrackerStore, self).retrieve_full_tracker(sender_id)
        )

    async def _reconnecting(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`, trying again while the database cannot be reached (up to a limit).

        Only connection failures are retried (`OperationalError`, or an error the driver
        marks as a lost connection): a failed statement would fail the same way again.
        """
        deadline = time.monotonic() + RECONNECT_SECONDS
        wait = 0.2
        while True:
            try:
                return await call()
            except sa.exc.DBAPIError as error:
                lost = isinstance(error, sa.exc.OperationalError) or error.connection_invalidated
                if not lost or time.monotonic() + wait > deadline:
                    raise
                log.warning("conversation store unreachable, trying again in %.1f s", wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)
