"""Conversation retention (`bot.retention`, `python -m bot prune-conversations`).

Conversations are written by the product's own tracker store (Rasa's SQL store) into a
real SQLite file and a real PostgreSQL database; the account schema with its audit log
lives in the *same* database, the strictest case for "the audit log is never pruned".
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import retention
from bot.chat.tracker_store import PrivateSQLTrackerStore
from bot.services import models as m
from bot.services.db import create_engine, migrate
from tests.conftest import POSTGRES_ADMIN_URL, ROOT, _admin, postgres_available, service_env

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
DAY = 86_400.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database holding the account schema (audit log included), per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        migrate(url)
        yield url
        return
    problem = postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI. {problem}")
        pytest.skip(problem)
    name = f"premier_retention_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def conversation(sender: str, first: float, last: float) -> DialogueStateTracker:
    """A session started at `first` whose newest event is at `last` (Unix seconds)."""
    events = [
        ActionExecuted("action_session_start", timestamp=first),
        SessionStarted(timestamp=first),
        ActionExecuted("action_listen", timestamp=first),
        UserUttered("show my unpaid invoices", timestamp=first),
        BotUttered("Here are your unpaid invoices.", timestamp=first + 1),
    ]
    if last > first + 1:
        events += [
            UserUttered("thanks", timestamp=last - 1),
            BotUttered("You're welcome.", timestamp=last),
        ]
    return DialogueStateTracker.from_events(sender, events)


async def store_conversations(url: str, trackers: List[DialogueStateTracker]) -> None:
    store = PrivateSQLTrackerStore(domain=Domain.empty(), url=url)
    try:
        for tracker in trackers:
            await store.save(tracker)
    finally:
        store.engine.dispose()


def events_by_conversation(url: str) -> Dict[str, int]:
    table = retention.events_table()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(table.c.sender_id, func.count()).group_by(table.c.sender_id)
            )
            return {sender: count for sender, count in rows}
    finally:
        engine.dispose()


def write_audit_log(url: str) -> List[Tuple]:
    """Audit rows older than any retention period; returns them as stored."""
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            for days, action in ((400, "pay_invoice"), (200, "reorder"), (1, "invite_user")):
                session.add(
                    m.AuditEvent(
                        at=(NOW - dt.timedelta(days=days)).replace(tzinfo=None),
                        user_id=1,
                        email="ben.buyer@acme.example",
                        role="buyer",
                        account_id=1,
                        channel="portal",
                        action=action,
                        target="INV-00000001",
                        outcome="ok",
                        detail={},
                    )
                )
            session.commit()
        return audit_log(url)
    finally:
        engine.dispose()


def audit_log(url: str) -> List[Tuple]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))
            return [(r.id, r.at, r.action, r.target, r.outcome, r.channel) for r in rows]
    finally:
        engine.dispose()


def seed_conversations(url: str) -> List[DialogueStateTracker]:
    now = NOW.timestamp()
    return [
        # every event long ago: goes
        conversation("old", now - 200 * DAY, now - 200 * DAY + 1),
        # last event just over the period: goes
        conversation("just-expired", now - 120 * DAY, now - 90 * DAY - 60),
        # started long ago, came back recently: stays whole
        conversation("came-back", now - 300 * DAY, now - 10 * DAY),
        # last event just inside the period: stays
        conversation("just-inside", now - 95 * DAY, now - 90 * DAY + 60),
        conversation("today", now - 3600, now - 60),
    ]


async def test_prunes_only_conversations_whose_last_event_is_past_the_period(database_url):
    trackers = seed_conversations(database_url)
    await store_conversations(database_url, trackers)
    before = events_by_conversation(database_url)
    audit_before = write_audit_log(database_url)
    assert len(audit_before) == 3

    engine = create_engine(database_url)
    try:
        dry = retention.prune_conversations(engine, older_than_days=90, dry_run=True, now=NOW)
        assert (dry.conversations, dry.events) == (2, before["old"] + before["just-expired"])
        assert events_by_conversation(database_url) == before  # a dry run deletes nothing

        result = retention.prune_conversations(engine, older_than_days=90, now=NOW)
    finally:
        engine.dispose()

    assert (result.conversations, result.events) == (dry.conversations, dry.events)
    after = events_by_conversation(database_url)
    assert after == {name: before[name] for name in ("came-back", "just-inside", "today")}
    assert audit_log(database_url) == audit_before

    engine = create_engine(database_url)
    try:
        again = retention.prune_conversations(engine, older_than_days=90, now=NOW)
    finally:
        engine.dispose()
    assert (again.conversations, again.events) == (0, 0)


async def test_a_kept_conversation_loads_whole_after_pruning(database_url):
    await store_conversations(database_url, seed_conversations(database_url))
    engine = create_engine(database_url)
    try:
        retention.prune_conversations(engine, older_than_days=90, now=NOW)
    finally:
        engine.dispose()
    store = PrivateSQLTrackerStore(domain=Domain.empty(), url=database_url)
    try:
        kept = await store.retrieve("came-back")
        gone = await store.retrieve("old")
    finally:
        store.engine.dispose()
    assert kept is not None and kept.events[0].timestamp == NOW.timestamp() - 300 * DAY
    assert kept.latest_message is not None and kept.latest_message.text == "thanks"
    assert gone is None or len(gone.events) == 0


def test_a_store_rasa_never_wrote_to_has_nothing_to_prune(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        result = retention.prune_conversations(engine, older_than_days=30, now=NOW)
    finally:
        engine.dispose()
    assert (result.conversations, result.events) == (0, 0)


def test_a_period_under_one_day_is_refused():
    with pytest.raises(ValueError):
        retention.cutoff_for(0)


def run_prune(url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = service_env(url, 0)
    environment.update({"TRACKER_STORE_URL": url, **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", "prune-conversations", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_command_uses_the_setting_and_the_option(tmp_path):
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    migrate(url)  # the audit log beside the conversations
    now = time.time()
    await store_conversations(
        url,
        [
            conversation("a-year-ago", now - 365 * DAY, now - 365 * DAY + 1),
            conversation("last-month", now - 40 * DAY, now - 30 * DAY),
            conversation("yesterday", now - DAY, now - DAY + 1),
        ],
    )
    audit_before = write_audit_log(url)
    sizes = events_by_conversation(url)

    dry = run_prune(url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove 1 conversation(s), {sizes['a-year-ago']} event(s)" in dry.stdout
    assert "more than 90 day(s)" in dry.stdout
    assert events_by_conversation(url) == sizes

    by_setting = run_prune(url, CONVERSATION_RETENTION_DAYS="180")
    assert by_setting.returncode == 0, by_setting.stderr
    assert f"removed 1 conversation(s), {sizes['a-year-ago']} event(s)" in by_setting.stdout
    assert set(events_by_conversation(url)) == {"last-month", "yesterday"}

    by_option = run_prune(url, "--older-than-days", "7", CONVERSATION_RETENTION_DAYS="180")
    assert by_option.returncode == 0, by_option.stderr
    assert "removed 1 conversation(s)" in by_option.stdout
    assert set(events_by_conversation(url)) == {"yesterday"}
    assert audit_log(url) == audit_before

    refused = run_prune(url, "--older-than-days", "0")
    assert refused.returncode == 2 and "at least 1 day" in refused.stderr
    assert set(events_by_conversation(url)) == {"yesterday"}
