"""Rasa's SQL tracker store, configured from the settings, that never writes a secret.

Before a conversation is saved (or streamed to an event broker) every event is
cleaned in place: the transient metadata fields (the turn's token, see
`bot.chat.metadata`) are removed from user messages and from the
`session_started_metadata` slot, and card numbers or tokens a person typed are
redacted from the text. Rasa saves a tracker once, at the end of a turn, after
the actions ran: they still received the token, and nothing stored holds it.

The database comes from `Settings.tracker_store_url` (SQLite in var/ by default,
PostgreSQL in production), so the endpoints file names no address or password.

Between turns the store keeps the trackers it served (`bot.chat.live_trackers`): a message
costs one indexed query ("is the newest stored event still the one I know?") instead of
reading and replaying the whole session, and a save appends the turn's new events without
counting the stored ones first. A tracker another replica has written since, or one whose
turn did not finish, is read again from the database, exactly as stock Rasa reads it; a saved
turn that started a new session is read again too, so the tracker holds only that session.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs, is_postgresql_url
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.chat.live_trackers import LiveTracker, LiveTrackers
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


def _write_ahead(connection: Any, _: Any) -> None:
    """SQLite (the single-machine store): a write-ahead log, flushed to disk at checkpoints.

    Each turn's save was a transaction that waited for the disk (2-3 ms of every message).
    With WAL and `synchronous=NORMAL` a save survives the process crashing at any moment;
    only a power cut can lose the last turns. Production's store is PostgreSQL.
    """
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _starts_session(event: Event) -> bool:
    return isinstance(event, SessionStarted) or (
        isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
    )


class PrivateSQLTrackerStore(SQLTrackerStore):
    """`tracker_store: type: bot.chat.tracker_store.PrivateSQLTrackerStore` in the endpoints."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        event_broker: Any = None,
        url: Optional[str] = None,
        cache_mb: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("host", None)  # Rasa passes the endpoint's url as `host`; the settings decide
        settings = load_settings()
        target = url or settings.tracker_store_url
        budget = settings.tracker_cache_mb if cache_mb is None else cache_mb
        self.live: Optional[LiveTrackers] = LiveTrackers(budget * 2**20) if budget else None
        private_sqlite_file(target)
        super().__init__(domain=domain, host=target, event_broker=event_broker, **kwargs)
        engine_url = getattr(self, "engine").url  # noqa: B009 - typed by Rasa at runtime only
        if engine_url.get_backend_name() == "sqlite" and engine_url.database:
            # SQLAlchemy 1.4 opens a new SQLite connection for every session (NullPool):
            # under load that was a fifth of the Rasa process's busy time. A small pool keeps
            # them open; the store is used from the event loop's thread (and, at most, from
            # the threads of a test), so sharing one across threads is not needed.
            self._replace_engine(
                poolclass=sa.pool.QueuePool, pool_size=2, connect_args={"check_same_thread": False}
            )
            sa.event.listen(self.engine, "connect", _write_ahead)
        if is_postgresql_url(engine_url):
            # Rasa's engine keeps pooled connections that a database restart has closed;
            # a pinged pool replaces them before use instead of failing the next turn.
            self._replace_engine(pool_pre_ping=True, **create_engine_kwargs(engine_url))

    def _replace_engine(self, **options: Any) -> None:
        """Rasa's engine for the same database, made again with `options`."""
        rasa_engine: Any = getattr(self, "engine")  # noqa: B009 - typed by Rasa at runtime only
        url = rasa_engine.url
        rasa_engine.dispose()
        self.engine = sa.create_engine(url, **options)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)

    async def save(self, tracker: DialogueStateTracker) -> None:
        if self.live is None:
            for event in tracker.events:
                clean_event(event)
            await self._reconnecting(lambda: super(PrivateSQLTrackerStore, self).save(tracker))
            return
        await self._reconnecting(lambda: self._save_live(tracker))

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        if self.live is None:
            return await self._reconnecting(
                lambda: super(PrivateSQLTrackerStore, self).retrieve(sender_id)
            )
        return await self._reconnecting(lambda: self._retrieve_live(sender_id))

    async def _retrieve_live(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The kept tracker when the store holds nothing newer, else the session read anew."""
        assert self.live is not None
        kept = self.live.get(sender_id)
        with self.session_scope() as session:
            newest = self._newest_event_id(session, sender_id)
            if kept is not None and kept.version == newest and not kept.unsaved:
                return kept.tracker  # type: ignore[no-any-return]
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)
            rows = [(row.id, row.data) for row in query]
        self.live.drop(sender_id)
        if not rows or not self.domain:
            return None
        tracker = DialogueStateTracker.from_dict(
            sender_id, [json.loads(data) for _, data in rows], self.domain.slots
        )
        size = sum(len(data) for _, data in rows)
        self.live.put(sender_id, LiveTracker(tracker, rows[-1][0], len(tracker.events), size))
        return tracker

    async def _save_live(self, tracker: DialogueStateTracker) -> None:
        """Append the events the store does not hold yet; keep the tracker for the next turn.

        The new events are the ones after what the kept tracker matched, when this is that
        tracker and nobody wrote the conversation since; otherwise they are found as stock
        Rasa finds them (by counting the stored events of the session).
        """
        assert self.live is not None
        sender_id = tracker.sender_id
        kept = self.live.get(sender_id)
        with self.session_scope() as session:
            newest = self._newest_event_id(session, sender_id)
            ours = kept is not None and kept.tracker is tracker and kept.version == newest
            if ours:
                assert kept is not None
                new: List[Event] = list(itertools.islice(tracker.events, kept.stored, None))
            else:
                new = list(self._additional_events(session, tracker))
            rows = [self._row(sender_id, event) for event in new]
            if rows:
                # One multi-row INSERT, not the ORM's unit of work (a statement per row to
                # learn each id): the conversation's lock keeps other writers out, so its
                # newest id afterwards is the last row's.
                session.execute(self.SQLEvent.__table__.insert(), rows)
                version = self._newest_event_id(session, sender_id)
            else:
                version = newest
            added = sum(len(row["data"]) for row in rows)
            session.commit()
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new, sender_id)
        if not ours or version is None or any(_starts_session(event) for event in new):
            # Read it again next time: as stock Rasa does, that holds this session alone.
            self.live.drop(sender_id)
            return
        assert kept is not None
        size = kept.size + added
        self.live.put(sender_id, LiveTracker(tracker, version, len(tracker.events), size))

    def _row(self, sender_id: str, event: Event) -> Dict[str, Any]:
        """One event as the row stock Rasa's `save` writes, cleaned first."""
        clean_event(event)
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _newest_event_id(self, session: Any, sender_id: str) -> Optional[int]:
        """The id of the conversation's newest stored event (ids only grow): its version."""
        # Plain SQL on the session's connection: the ORM's statement building cost more than
        # the indexed lookup itself, and this runs for every read and save of a turn.
        table = self.SQLEvent.__table__.name
        newest = sa.text(f"SELECT max(id) FROM {table} WHERE sender_id = :sender")  # noqa: S608
        value: Optional[int] = session.connection().execute(newest, {"sender": sender_id}).scalar()
        return value

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
