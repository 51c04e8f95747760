"""Kept trackers keep every conversation's events exactly (issue 14), on SQLite and PostgreSQL.

The same conversation - turns, a form, a retracted message, a turn that failed before it was
stored, a new session - is played into a store that keeps its trackers and one that reads
every turn from the database as stock Rasa does: what each reads back after every turn, and
the rows each wrote, are the same. Then two processes, each with its own kept trackers, take
turns in one conversation: each sees the other's turns.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tracemalloc
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.chat import incremental_states
from bot.chat.live_trackers import MEMORY_PER_JSON_BYTE, LiveTracker, LiveTrackers
from bot.chat.tracker_store import PrivateSQLTrackerStore
from bot.settings import SettingsError
from tests.conftest import ROOT, _admin, settings_for_tests

CONVERSATION = "portal:42"
_clock = iter(range(1_700_000_000, 1_800_000_000))


def _at(event: Event) -> Dict[str, Any]:
    """The event as a dict with its own timestamp, the same for every store it is played to."""
    event.timestamp = float(next(_clock))
    return event.as_dict()


def said(text_: str, intent: str) -> List[Dict[str, Any]]:
    return [
        _at(UserUttered(text_, {"name": intent, "confidence": 0.97})),
        _at(ActionExecuted(f"utter_{intent}")),
        _at(BotUttered(f"answer to {text_}")),
        _at(ActionExecuted("action_listen")),
    ]


def session_start(carry: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [
        _at(ActionExecuted("action_session_start")),
        _at(SessionStarted()),
        *[_at(SlotSet(name, value)) for name, value in carry.items()],
        _at(ActionExecuted("action_listen")),
    ]


@dataclass
class Turn:
    events: List[Dict[str, Any]]
    stored: bool = True  # False: the turn failed before Rasa stored it


def a_conversation() -> List[Turn]:
    form = "renew_contract_form"
    return [
        Turn(session_start({"language": "en"})),
        Turn(said("hi", "greet")),
        Turn(said("show my invoices", "list_invoices") + [_at(SlotSet("language", "en"))]),
        Turn(
            [
                _at(UserUttered("renew a contract", {"name": "renew_contract", "confidence": 0.9})),
                _at(ActionExecuted(form)),
                _at(ActiveLoop(form)),
                _at(SlotSet("requested_slot", "service_tags")),
                _at(BotUttered("Which service tag?")),
                _at(ActionExecuted("action_listen")),
            ]
        ),
        Turn(
            [
                _at(UserUttered("7XK2M93", {"name": "inform", "confidence": 0.9})),
                _at(SlotSet("service_tags", ["7XK2M93"])),
                _at(ActionExecuted(form)),
                _at(SlotSet("requested_slot", "duration")),
                _at(ActionExecuted("action_listen")),
            ]
        ),
        Turn(said("this never reaches the store", "chitchat"), stored=False),
        Turn(
            [
                _at(UserUttered("asdfgh", {"name": "nlu_fallback", "confidence": 0.2})),
                _at(ActionExecuted("action_default_fallback")),
                _at(UserUtteranceReverted()),
                _at(ActionExecuted("action_listen")),
            ]
        ),
        Turn(
            [
                _at(UserUttered("stop", {"name": "stop", "confidence": 0.9})),
                _at(ActiveLoop(None)),
                _at(SlotSet("requested_slot", None)),
                _at(ActionExecuted("action_listen")),
            ]
        ),
        *[Turn(said(f"thanks {n}", "thanks")) for n in range(6)],
        Turn(session_start({"language": "en", "service_tags": ["7XK2M93"]})),
        *[Turn(said(f"hello again {n}", "greet")) for n in range(4)],
    ]


Snapshot = Tuple[List[Dict[str, Any]], Dict[str, Any], Any]


async def play(store: PrivateSQLTrackerStore, domain: Domain, turns: List[Turn]) -> Tuple:
    """Each turn as Rasa takes it: read, append, store; then what the store reads back."""
    snapshots: List[Snapshot] = []
    reused = 0
    previous = None
    for turn in turns:
        tracker = await store.get_or_create_tracker(CONVERSATION, append_action_listen=False)
        reused += tracker is previous
        for data in turn.events:
            tracker.update(Event.from_parameters(data), domain)
        if turn.stored:
            await store.save(tracker)
        again = await store.retrieve(CONVERSATION)
        assert again is not None
        snapshots.append(
            (
                [event.as_dict() for event in again.events],
                again.current_slot_values(),
                again.active_loop_name,
            )
        )
        previous = again
    return snapshots, reused


def stored_rows(url: str) -> List[Tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT sender_id, type_name, intent_name, action_name, data"
                " FROM events ORDER BY id"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.fixture
def other_store_url(store_url: str, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A second, empty database on the same backend."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'uncached.db'}"
        return
    name = f"tracker_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield make_url(store_url).set(database=name).render_as_string(hide_password=False)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_kept_trackers_read_and_write_exactly_what_stock_rasa_does(
    domain, store_url, other_store_url
):
    turns = a_conversation()
    kept = PrivateSQLTrackerStore(domain=domain, url=store_url, cache_mb=64)
    stock = PrivateSQLTrackerStore(domain=domain, url=other_store_url, cache_mb=0)
    assert kept.live is not None and stock.live is None

    kept_reads, kept_reused = await play(kept, domain, turns)
    stock_reads, stock_reused = await play(stock, domain, turns)

    for number, (ours, theirs) in enumerate(zip(kept_reads, stock_reads, strict=True)):
        assert ours == theirs, f"turn {number} reads back differently"
    assert stored_rows(store_url) == stored_rows(other_store_url)
    # The kept store really served most turns from memory; stock never can.
    assert stock_reused == 0
    assert kept_reused >= len(turns) - 6, kept_reused
    # The failed turn's events were never stored, and the next turn did not see them.
    assert "this never reaches the store" not in json.dumps(kept_reads[-1])
    assert all("this never reaches the store" not in row[4] for row in stored_rows(store_url))
    # After the second session started, only that session is read, as stock Rasa reads it.
    events, slots, loop = kept_reads[-1]
    assert [e["event"] for e in events].count("session_started") == 1
    assert slots["service_tags"] == ["7XK2M93"] and loop is None


def peer(url: str, events: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Another process (its own kept trackers) appends `events`; what it then reads."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.chat.tracker_peer", url, CONVERSATION, json.dumps(events)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    read: List[Dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return read


async def test_two_processes_taking_turns_each_see_the_others_turns(domain, store_url):
    here = PrivateSQLTrackerStore(domain=domain, url=store_url, cache_mb=64)
    for turn in (session_start({"language": "es"}), said("hola", "greet")):
        tracker = await here.get_or_create_tracker(CONVERSATION, append_action_listen=False)
        for data in turn:
            tracker.update(Event.from_parameters(data), domain)
        await here.save(tracker)
    kept_before = await here.retrieve(CONVERSATION)
    assert kept_before is tracker  # kept between turns

    # The other replica answers the next message of the same conversation.
    theirs = peer(store_url, said("mis facturas", "list_invoices"))

    ours = await here.retrieve(CONVERSATION)
    assert ours is not None and ours is not kept_before  # the kept copy was stale: read anew
    assert [event.as_dict() for event in ours.events] == theirs
    for data in said("gracias", "thanks"):
        ours.update(Event.from_parameters(data), domain)
    await here.save(ours)

    seen_there = peer(store_url, [])
    assert [event.as_dict() for event in ours.events] == seen_there
    texts = [event.get("text") for event in seen_there if event["event"] == "user"]
    assert texts == ["hola", "mis facturas", "gracias"]
    fresh = await PrivateSQLTrackerStore(domain=domain, url=store_url, cache_mb=0).retrieve(
        CONVERSATION
    )
    assert fresh is not None and [e.as_dict() for e in fresh.events] == seen_there


def test_the_kept_trackers_stay_within_their_budget_least_recently_used_first():
    def entry(memory: int) -> LiveTracker:
        json_bytes = memory // MEMORY_PER_JSON_BYTE
        return LiveTracker(tracker=None, version=1, stored=0, size=json_bytes)

    unit = MEMORY_PER_JSON_BYTE
    live = LiveTrackers(budget_bytes=100 * unit)
    live.put("a", entry(40 * unit))
    live.put("b", entry(40 * unit))
    assert live.get("a") is not None  # "a" is now the most recently used
    live.put("c", entry(40 * unit))  # over budget: "b", the least recently used, goes
    assert live.get("b") is None and live.get("a") and live.get("c")
    assert live.size == 80 * unit
    live.put("huge", entry(101 * unit))  # larger than the whole budget: never kept
    assert live.get("huge") is None and live.size == 80 * unit
    live.put("a", entry(10 * unit))  # replacing an entry counts its new size only
    assert live.size == 50 * unit
    live.drop("c")
    assert len(live) == 1 and live.size == 10 * unit


def test_a_kept_tracker_counts_as_the_memory_it_takes(domain):
    """The budget's estimate is at least what a deserialised conversation really takes."""
    said_again = [turn.events for turn in a_conversation()[1:5]] * 100  # form steps too
    rows = [json.dumps(event) for events in said_again for event in events]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracker = DialogueStateTracker.from_dict(
            "someone", [json.loads(r) for r in rows], domain.slots
        )
        incremental_states.install()
        tracker.past_states(domain)  # the states kept with it
        gc.collect()
        taken = tracemalloc.get_traced_memory()[0] - before
    finally:
        incremental_states.uninstall()
        tracemalloc.stop()
    estimate = LiveTracker(tracker, 1, len(tracker.events), sum(map(len, rows))).memory
    assert taken <= estimate <= 2 * taken


def test_the_cache_size_is_a_setting_and_zero_turns_it_off():
    assert settings_for_tests().tracker_cache_mb == 64
    assert settings_for_tests(TRACKER_CACHE_MB="0").tracker_cache_mb == 0
    with pytest.raises(SettingsError, match="TRACKER_CACHE_MB"):
        settings_for_tests(TRACKER_CACHE_MB="-5")
