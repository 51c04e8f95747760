"""Conversation retention: delete conversations whose last event is older than a period.

Why: a conversation holds what a person asked about their account (orders, invoices,
names, addresses), and keeping it forever serves nobody once it is over; the product
keeps conversations for `CONVERSATION_RETENTION_DAYS` (90 by default) after their last
event, and `python -m bot prune-conversations` (a Kubernetes CronJob in production,
docs/deploy.md) removes the rest.

What: only Rasa's tracker store, the `events` table of `Settings.tracker_store_url`
(SQLite by default, PostgreSQL in production). A conversation is all the rows of one
`sender_id`; it goes as a whole, never in part, and only when its *newest* event is
older than the cutoff, so a conversation someone came back to is kept entire. The table
is Rasa's own definition (`SQLTrackerStore.SQLEvent`), not a copy of it.

What not: the account services' audit log (`audit_events`, in `DATABASE_URL`) is a
record of who did what and is never pruned by this, not even when both live in one
database: the statements below name the events table alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, List, Optional

from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.engine import Engine

from bot.files import private_sqlite_file

# Conversations deleted per transaction: each batch is short, so a replica saving a
# tracker at the same moment waits milliseconds, not for the whole run.
BATCH_CONVERSATIONS = 500


@dataclass(frozen=True)
class PruneResult:
    """What a run removed (or, dry, would remove)."""

    conversations: int
    events: int
    cutoff: dt.datetime
    dry_run: bool


def events_table() -> Any:
    """Rasa's `events` table (importing Rasa's tracker store is slow, so only on use)."""
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore.SQLEvent.__table__


def cutoff_for(days: int, now: Optional[dt.datetime] = None) -> dt.datetime:
    """The moment before which a conversation's last event makes it expire."""
    if days < 1:
        raise ValueError("the retention period must be at least 1 day")
    moment = now or dt.datetime.now(dt.timezone.utc)
    return moment - dt.timedelta(days=days)


def prune_conversations(
    engine: Engine,
    *,
    older_than_days: int,
    dry_run: bool = False,
    now: Optional[dt.datetime] = None,
) -> PruneResult:
    """Delete (or, with `dry_run`, count) the conversations whose last event is before the cutoff.

    Args:
        engine: the tracker store's database.
        older_than_days: the retention period.
        dry_run: count only; nothing is deleted.
        now: the present moment (tests); default: the clock.
    Returns:
        How many conversations and events were (or would be) removed.
    Raises:
        ValueError: `older_than_days` is below 1.
    """
    cutoff = cutoff_for(older_than_days, now)
    if not inspect(engine).has_table("events"):
        # No conversation was ever stored (Rasa creates the table on its first start).
        return PruneResult(0, 0, cutoff, dry_run)
    events = events_table()
    # Rasa stores each event's time as Unix seconds (float).
    expired = (
        select(events.c.sender_id)
        .group_by(events.c.sender_id)
        .having(func.max(events.c.timestamp) < cutoff.timestamp())
    )
    if dry_run:
        with engine.connect() as connection:
            conversations = connection.scalar(select(func.count()).select_from(expired.subquery()))
            count = connection.scalar(
                select(func.count()).where(events.c.sender_id.in_(expired.scalar_subquery()))
            )
        return PruneResult(int(conversations or 0), int(count or 0), cutoff, True)
    # The delete checks the last event again, in the same statement: a conversation
    # someone wrote to since the batch was chosen stays whole.
    again = events.alias("again")
    conversations = removed = 0
    while True:
        with engine.begin() as connection:
            batch: List[str] = list(
                connection.scalars(expired.order_by(events.c.sender_id).limit(BATCH_CONVERSATIONS))
            )
            if not batch:
                break
            still_expired = (
                select(again.c.sender_id)
                .where(again.c.sender_id.in_(batch))
                .group_by(again.c.sender_id)
                .having(func.max(again.c.timestamp) < cutoff.timestamp())
            )
            deleted = connection.execute(
                events.delete().where(events.c.sender_id.in_(still_expired.scalar_subquery()))
            )
        conversations += len(batch)
        removed += deleted.rowcount
    return PruneResult(conversations, removed, cutoff, False)


def run(tracker_store_url: str, *, older_than_days: int, dry_run: bool) -> PruneResult:
    """`prune_conversations` on the tracker store at `tracker_store_url` (an engine of its own)."""
    private_sqlite_file(tracker_store_url)
    engine = create_engine(tracker_store_url, future=True)
    try:
        return prune_conversations(engine, older_than_days=older_than_days, dry_run=dry_run)
    finally:
        engine.dispose()


def describe(result: PruneResult, days: int) -> str:
    """One line for the operator (and the CronJob's log): what went, and the rule."""
    verb = "would remove" if result.dry_run else "removed"
    return (
        f"{verb} {result.conversations} conversation(s), {result.events} event(s): "
        f"last event more than {days} day(s) ago (before {result.cutoff:%Y-%m-%d %H:%M} UTC)"
        + ("; dry run, nothing deleted" if result.dry_run else "")
    )
