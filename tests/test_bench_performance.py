"""The performance benchmark's instrument: its statistics, its load generator and its verdicts.

No stack and no training here: the closed-loop generator runs against a small real HTTP
server (aiohttp on a free port) that records what arrives when.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.load import Conversation, LoadResult, Message, Sample, percentile, run_load
from bench.load_people import seed_load_people
from bench.performance.goals import goals, latency_at_turns
from bench.performance.measure import last_training_figure
from bench.performance.plan import TRAINING_REPORT
from bench.performance.profile import AREA_TIERS, OTHER_AREA, area_of, profile_windows
from bench.stock_rasa import cache_key
from bot.services import models as m
from bot.services.db import create_engine, migrate
from bot.services.seed import seed
from tests.conftest import free_port

# --- statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 95, 3.85),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([4, 1, 3, 2], 25, 1.75),  # order does not matter
        ([7], 99, 7),
        (list(range(1, 101)), 99, 99.01),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_not_a_number():
    assert math.isnan(percentile([], 50))


def result(latencies_ms: List[float], seconds: float, errors: int = 0) -> LoadResult:
    samples = [Sample(0, n + 1, ms / 1000) for n, ms in enumerate(latencies_ms)]
    samples += [Sample(0, 0, 5.0, "HTTP 500: boom") for _ in range(errors)]
    return LoadResult(concurrency=10, seconds=seconds, samples=samples)


def test_throughput_counts_answered_messages_only_and_latency_ignores_errors():
    measured = result([100, 200, 300, 400], seconds=2.0, errors=3)
    assert measured.throughput == pytest.approx(2.0)
    assert measured.errors == 3
    assert measured.percentile(50) == pytest.approx(250)
    assert measured.percentile(100) == pytest.approx(400)  # the 5 s errors are not latency


def test_latency_at_a_turn_is_the_median_of_the_turns_around_it():
    samples = [Sample(0, turn, turn / 1000) for turn in range(1, 13)]
    samples[5] = Sample(0, 6, 9.0)  # one slow turn next to turn 5 does not move it
    at = latency_at_turns(samples, [5, 10])
    assert at[5] == pytest.approx(0.005)
    assert at[10] == pytest.approx(0.010)  # turns 8..12


# --- the closed-loop generator against a real server ----------------------------------------


class Recorder:
    """A chat webhook that answers after a pause and records concurrency as it happens."""

    def __init__(self, pause: float = 0.05) -> None:
        self.pause = pause
        self.in_flight = 0
        self.most_in_flight = 0
        self.per_sender: Dict[str, int] = defaultdict(int)
        self.overlapped: List[str] = []  # senders that sent before their answer came
        self.received: Dict[str, List[str]] = defaultdict(list)

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, text = body["sender"], body["message"]
        self.received[sender].append(text)
        if self.per_sender[sender]:
            self.overlapped.append(sender)
        self.per_sender[sender] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.pause)
        finally:
            self.in_flight -= 1
            self.per_sender[sender] -= 1
        if text == "fail":
            return web.json_response({"error": "boom"}, status=500)
        if text == "silence":
            return web.json_response([])
        return web.json_response([{"recipient_id": sender, "text": f"you said {text}"}])


@pytest.fixture
async def server():
    recorder = Recorder()
    app = web.Application()
    app.router.add_post("/webhook", recorder.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield recorder, f"http://127.0.0.1:{port}/webhook"
    await runner.cleanup()


def talkers(url: str, count: int) -> List[Conversation]:
    return [Conversation(url, f"person-{n}") for n in range(count)]


async def test_conversations_run_at_once_and_each_waits_for_its_answer(server):
    recorder, url = server
    mix = [Message("a"), Message("b"), Message("c")]
    measured = await run_load(talkers(url, 6), mix, turns=4, warmup=1)
    assert recorder.most_in_flight == 6  # all six conversations were in flight together
    assert recorder.overlapped == []  # and none sent again before its answer came
    assert len(measured.samples) == 6 * 4  # the warm-up turn is sent, not measured
    assert {len(texts) for texts in recorder.received.values()} == {5}
    # Conversation n starts at message n of the mix and goes through it in order.
    assert recorder.received["person-1"] == ["b", "c", "a", "b", "c"]
    assert measured.errors == 0
    assert all(s.seconds >= recorder.pause for s in measured.samples)
    assert sorted({s.turn for s in measured.samples}) == [2, 3, 4, 5]


async def test_a_duration_run_stops_sending_and_measures_its_throughput(server):
    recorder, url = server
    measured = await run_load(talkers(url, 4), [Message("hi")], seconds=0.5)
    # Closed loop: about 4 conversations x 0.5 s / 0.05 s each, never more than that.
    assert 20 <= len(measured.answered) <= 4 * 0.6 / recorder.pause
    assert 0.5 <= measured.seconds < 1.0
    assert measured.throughput == pytest.approx(len(measured.answered) / measured.seconds)


async def test_failures_empty_answers_and_wrong_answers_are_errors(server):
    _, url = server
    mix = [
        Message("fail"),
        Message("silence"),
        Message("hello", expect="you said hello"),
        Message("hello", expect="unpaid invoices"),
    ]
    measured = await run_load(talkers(url, 1), mix, turns=8, warmup=0)
    assert measured.errors == 6
    assert measured.error_kinds() == {
        "HTTP 500": 2,
        "empty answer to 'silence'": 2,
        "unexpected answer to 'hello'": 2,
    }
    assert len(measured.answered) == 2


async def test_a_server_that_is_not_there_gives_errors_not_a_crash():
    url = f"http://127.0.0.1:{free_port()}/webhook"
    measured = await run_load(talkers(url, 2), [Message("hi")], turns=2, warmup=1)
    assert measured.errors == 4 and len(measured.warmup_errors) == 2
    assert measured.error_kinds().keys() == {"ConnectError"}


# --- verdicts -------------------------------------------------------------------------------


def test_targets_met_and_missed_by_how_much():
    stock = result([50] * 10, seconds=1.0)  # 10 msg/s
    fast = result([100] * 25, seconds=1.0)  # 25 msg/s, p95 100 ms
    slow = result([400] * 8, seconds=1.0)  # 8 msg/s, p95 400 ms
    met = {g.name: g for g in goals(stock, fast, fast, {5: 0.1, 500: 0.11}, 600 * 2**20)}
    assert all(goal.met for goal in met.values()), [g.verdict() for g in met.values()]
    missed = goals(stock, slow, slow, {5: 0.1, 50: 0.2}, 2 * 10**9)
    assert [g.met for g in missed] == [False] * 5
    verdicts = [g.verdict() for g in missed]
    assert verdicts[0] == "missed: 1.20 x short (60%)"  # 0.8x of stock against 2x
    assert verdicts[1] == "missed: 150 ms over (60%)"
    assert verdicts[2] == "missed: 2.00 msg/s short (20%)"
    assert missed[3].name == "latency at turn 50 / turn 5"
    assert verdicts[3] == "missed: 0.80 x over (67%)"
    assert verdicts[4] == "missed: 1.00 GB over (100%)"


def test_a_target_without_a_measurement_is_not_met_and_says_so():
    unknown = goals(None, None, None, {}, None)
    assert [g.verdict() for g in unknown] == ["not measured"] * 5
    assert not any(g.met for g in unknown)


def test_the_limit_itself_meets_the_target():
    stock = result([50] * 10, seconds=1.0)
    exactly = result([250] * 20, seconds=1.0)
    ratio, p95, account, _, _ = goals(stock, exactly, result([1] * 10, 1.0), {}, None)
    assert ratio.met and p95.met and account.met


# --- the stock bot's cache key --------------------------------------------------------------


def test_the_stock_bots_cache_key_follows_the_rasa_version_and_the_template(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text("nlu: []\n")
    (tmp_path / "config.yml").write_text("recipe: default.v1\n")
    first = cache_key("3.6.21", tmp_path)
    assert cache_key("3.6.21", tmp_path) == first
    assert cache_key("3.6.22", tmp_path) != first
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert cache_key("3.6.21", tmp_path) == first  # compiled files are not the template
    (tmp_path / "data" / "nlu.yml").write_text("nlu: [changed]\n")
    assert cache_key("3.6.21", tmp_path) != first


# --- the training figure and the profile ----------------------------------------------------


def test_the_training_figure_is_the_newest_successful_row():
    text = "\n".join(
        [
            "| when (UTC) | cores | Python | Rasa | result | time | target |",
            "|---|---|---|---|---|---|---|",
            "| 2026-11-27 09:07 | 2 | 3.10.13 | 3.6.21 | trained | 2 min 38 s | within |",
            "| 2026-11-28 10:00 | 2 | 3.10.13 | 3.6.21 | FAILED | 0 min 12 s | within |",
        ]
    )
    when, seconds = last_training_figure(text)
    assert when == dt.datetime(2026, 11, 27, 9, 7, tzinfo=dt.timezone.utc)
    assert seconds == 158
    assert last_training_figure("# nothing measured yet") is None


def test_the_committed_training_report_can_be_read():
    assert last_training_figure(TRAINING_REPORT.read_text()) is not None


def test_a_sample_belongs_to_the_outermost_step_of_rasas_processing():
    reading = [
        "bot/channels/portal.py:receive",
        "rasa/core/processor.py:handle_message",
        "rasa/core/processor.py:fetch_tracker_and_update_session",
        "bot/chat/tracker_store.py:retrieve",
    ]
    assert area_of(reading) == "reading the conversation (tracker store)"
    assert area_of(["bot/channels/portal.py:receive", "bot/chat/layer.py:verify"]) == (
        "conversation layer (identity, metadata)"
    )
    assert area_of(["sanic/app.py:handle_request"]) == OTHER_AREA
    areas = {area for tier in AREA_TIERS for _, _, area in tier}
    assert len(areas) == sum(len(tier) for tier in AREA_TIERS)  # no area named twice


def test_profile_shares_leave_out_the_idle_event_loop():
    frames = [
        "sanic/server/runners.py:serve",  # 0: the loop waiting in C
        "rasa/core/processor.py:parse_message",  # 1
        "rasa/core/processor.py:save_tracker",  # 2
        "threading.py:wait",  # 3
        "rasa/nlu/classifiers/diet_classifier.py:process",  # 4
        "rasa/nlu/tokenizers/whitespace_tokenizer.py:process",  # 5
    ]
    samples = [[t / 100, 1, [0]] for t in range(0, 100)]  # idle second: 0.00 .. 0.99
    busy = [[0, 1, 4], [0, 1, 4], [0, 1, 5], [0, 2], [0]]  # 3 parsing, 1 saving, 1 idle
    samples += [[2 + n / 100, 1, stack] for n, stack in enumerate(busy)]
    samples += [[2.01, 0, [3]]]  # a pool thread waiting
    (window,) = profile_windows(
        {"frames": frames, "samples": samples}, (0.0, 1.0), [("load", 1.5, 3.0)]
    )
    assert (window.samples, window.busy, window.other_threads) == (5, 4, 0)
    assert dict(window.areas) == {
        "understanding the message (NLU)": 0.75,
        "saving the conversation (tracker store)": 0.25,
    }
    # Parsing always goes through parse_message; most of it through DIET.
    assert window.hotspots["understanding the message (NLU)"] == (frames[4], pytest.approx(2 / 3))


# --- load people ----------------------------------------------------------------------------


def test_load_people_are_seeded_once_and_extended_on_demand(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'load.db'}"
    migrate(url)
    engine = create_engine(url)
    try:
        seed(engine)
        first = seed_load_people(engine, 3)
        more = seed_load_people(engine, 120)
        assert more[:3] == first and len(set(more)) == 120
        with Session(engine) as session:
            people = session.scalar(
                select(func.count()).select_from(m.User).where(m.User.email.like("load.%"))
            )
            roles = set(
                session.scalars(
                    select(m.Membership.role)
                    .join(m.User, m.User.id == m.Membership.user_id)
                    .where(m.User.email.like("load.%"))
                )
            )
        assert people == 120 and roles == {"buyer"}
    finally:
        engine.dispose()
