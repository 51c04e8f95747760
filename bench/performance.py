"""Issue 14's benchmark: the project's full stack against a stock `rasa init` bot.

    python -m bench.performance            # or: make bench          (about 15 minutes)
    python -m bench.performance --quick    # or: make bench QUICK=1  (under 5 minutes)

In one run on this machine, one system at a time:

- stock Rasa: `rasa init --no-prompt` of the installed Rasa, trained once and cached in
  var/bench/stock-rasa/ (bench/stock_rasa.py), on the REST channel only, with Rasa's default
  in-memory tracker store and no action server;
- the project: the development stack as the end-to-end tests start it
  (`tests/e2e/conftest.running_stack`): account services, action server, Rasa with
  models/assistant.tar.gz on the portal channel, its SQL tracker store (SQLite) and Redis lock
  store; each conversation is a different seeded buyer of Acme (bench/load_people.py);
- production mode (full run only): `make run-prod`'s layout (tests/e2e/prod_stack.py) with the
  same load through nginx to one and to two Rasa replicas.

Measures closed-loop load (bench/load.py) at 1, 10 and 50 conversations on the small-talk mix
(both) and the account-question mix (project), latency by turn of one long conversation, cold
start to the first answer, training time and model size, peak memory of every process and
CPU per answered message. Checks issue 14's targets; when one is missed, samples the stacks of
the project's Rasa process under the same load to show where the time goes. Writes
bench/reports/performance.md (quick: performance-quick.md, so a quick run never replaces the
committed report) with PNG plots beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import httpx
import psutil
from rich.console import Console as Terminal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bench.load import (
    ACCOUNT_QUESTIONS,
    SMALL_TALK,
    Conversation,
    LoadResult,
    Message,
    Sample,
    run_load,
)
from bench.load_people import seed_load_people
from bench.stock_rasa import StockBot, environment, stock_bot
from bot import assistant
from bot.settings import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "bench" / "reports"
REPORT = REPORTS / "performance.md"
QUICK_REPORT = REPORTS / "performance-quick.md"
TRAINING_REPORT = REPORTS / "training.md"
terminal = Terminal()

# The project's stack gets a Redis database of its own: the lock store's keys are per
# conversation id, and the end-to-end tests' stack (database 3) numbers its people alike.
PROJECT_REDIS_URL = "redis://127.0.0.1:6379/9"
SMALL = "small talk"
ACCOUNT = "account questions"
MIXES: Dict[str, Sequence[Message]] = {SMALL: SMALL_TALK, ACCOUNT: ACCOUNT_QUESTIONS}
STOCK, PROJECT = "stock", "project"
PROD_ONE, PROD_TWO = "production, 1 replica", "production, 2 replicas"
# Latency "at turn n" is the median of turns n-2 .. n+2 of the one long conversation.
TURN_WINDOW = 2
# A figure of bench.training_time counts as this run's when written this recently.
TRAINING_FRESH = dt.timedelta(hours=1)
GB = 10**9
MIB = 2**20


@dataclass(frozen=True)
class Plan:
    """How much of everything one run measures."""

    quick: bool
    concurrencies: Tuple[int, ...]
    load_seconds: float
    turn_marks: Tuple[int, ...]
    production: bool
    production_seconds: float
    profile_seconds: float
    always_profile: bool = False

    @property
    def report(self) -> Path:
        return QUICK_REPORT if self.quick else REPORT


FULL = Plan(False, (1, 10, 50), 15.0, (5, 50, 200, 500), True, 12.0, 15.0)
QUICK = Plan(True, (1, 10), 6.0, (5, 50), False, 0.0, 0.0)


# --- what is measured ---------------------------------------------------------------------


@dataclass
class Run:
    """One closed-loop load run and what every process of its system used meanwhile."""

    system: str
    mix: str
    result: LoadResult
    cpu: Dict[str, float]  # CPU seconds per process (its children included)
    memory: Dict[str, int]  # peak RSS in bytes per process (its children included)
    # Cores busy on average with work of no measured process (another program's tests, the
    # databases): what else competed for the machine meanwhile.
    other_cores: float = 0.0

    def cpu_ms_per_message(self) -> Dict[str, float]:
        answered = max(1, len(self.result.answered))
        return {label: seconds * 1000 / answered for label, seconds in self.cpu.items()}


@dataclass
class Training:
    seconds: Optional[float]
    model_bytes: int
    how: str


@dataclass
class ProfileWindow:
    """Where the Rasa process's main thread (its event loop) spent one window of time."""

    name: str
    seconds: float
    samples: int
    busy: int
    areas: List[Tuple[str, float]]  # area of a turn -> share of busy samples
    inclusive: List[Tuple[str, float]]  # function -> share of busy samples with it on the stack
    own: List[Tuple[str, float]]  # function running at the sample -> share of busy samples
    other_threads: int  # samples of other Python threads that were not waiting
    # Per area: the function most of its samples go through, below its entry point
    # (the entry point and the wrappers every sample of the area shares are left out).
    hotspots: Dict[str, Tuple[str, float]] = field(default_factory=dict)


@dataclass
class Findings:
    plan: Plan
    runs: List[Run] = field(default_factory=list)
    turns: Dict[str, List[Sample]] = field(default_factory=dict)
    cold_start: List[Tuple[str, float]] = field(default_factory=list)
    training: Dict[str, Training] = field(default_factory=dict)
    memory: Dict[str, int] = field(default_factory=dict)
    # RSS of each system's Rasa right after its first answer (model loaded, no load yet).
    idle_bytes: Dict[str, int] = field(default_factory=dict)
    production: str = ""  # why production mode was not measured, or how it was
    profile: List[ProfileWindow] = field(default_factory=list)
    profile_note: str = ""
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0

    def run(self, system: str, mix: str, concurrency: int) -> Optional[Run]:
        for run in self.runs:
            if (run.system, run.mix, run.result.concurrency) == (system, mix, concurrency):
                return run
        return None


# --- targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    """One of issue 14's targets: a measured value against its limit."""

    name: str
    measured: float
    limit: float
    at_most: bool
    unit: str
    detail: str = ""

    @property
    def measured_known(self) -> bool:
        return not math.isnan(self.measured)

    @property
    def met(self) -> bool:
        if not self.measured_known:
            return False
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    def verdict(self) -> str:
        if not self.measured_known:
            return "not measured"
        if self.met:
            return "met"
        gap = abs(self.measured - self.limit)
        share = gap / self.limit * 100 if self.limit else math.inf
        side = "over" if self.at_most else "short"
        return f"missed: {_number(gap)} {self.unit} {side} ({share:.0f}%)"


def _number(value: float) -> str:
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def goals(
    stock_small: Optional[LoadResult],
    project_small: Optional[LoadResult],
    project_account: Optional[LoadResult],
    turn_latency: Dict[int, float],
    rasa_peak_bytes: Optional[int],
) -> List[Goal]:
    """Issue 14's targets at 10 conversations (2 cores), from what was measured.

    Args:
        stock_small, project_small, project_account: the load runs at 10 conversations.
        turn_latency: the project's latency (s) by turn; the target compares the last
            measured turn (500 in a full run) with turn 5.
        rasa_peak_bytes: the peak RSS of the project's Rasa process.
    """
    nan = math.nan
    stock_tp = stock_small.throughput if stock_small else nan
    small_tp = project_small.throughput if project_small else nan
    account_tp = project_account.throughput if project_account else nan
    ratio = small_tp / stock_tp if stock_tp else nan
    last = max(turn_latency) if turn_latency else 0
    first = turn_latency.get(5)
    growth = turn_latency[last] / first if first and last > 5 else nan
    return [
        Goal(
            "small talk at 10 conversations: throughput / stock's",
            ratio,
            2.0,
            False,
            "x",
            f"{small_tp:.1f} vs {stock_tp:.1f} msg/s",
        ),
        Goal(
            "small talk at 10 conversations: p95 latency",
            project_small.percentile(95) if project_small else nan,
            250.0,
            True,
            "ms",
        ),
        Goal(
            "account questions at 10 conversations: throughput >= stock's small talk",
            account_tp,
            stock_tp,
            False,
            "msg/s",
        ),
        Goal(
            f"latency at turn {last or 500} / turn 5",
            growth,
            1.2,
            True,
            "x",
            f"{first * 1000:.0f} -> {turn_latency[last] * 1000:.0f} ms" if first and last else "",
        ),
        Goal(
            "Rasa process peak memory (RSS)",
            rasa_peak_bytes / GB if rasa_peak_bytes else nan,
            1.0,
            True,
            "GB",
            f"{rasa_peak_bytes / MIB:.0f} MiB" if rasa_peak_bytes else "",
        ),
    ]


def latency_at_turns(samples: Sequence[Sample], marks: Sequence[int]) -> Dict[int, float]:
    """Median latency (s) of turns mark-TURN_WINDOW .. mark+TURN_WINDOW, for each mark."""
    by_turn = {s.turn: s.seconds for s in samples if not s.error}
    found = {}
    for mark in marks:
        around = [
            by_turn[t] for t in range(mark - TURN_WINDOW, mark + TURN_WINDOW + 1) if t in by_turn
        ]
        if around:
            found[mark] = statistics.median(around)
    return found


def last_training_figure(text: str) -> Optional[Tuple[dt.datetime, float]]:
    """The newest (UTC time, seconds) of a successful training in bench/reports/training.md."""
    found = None
    for line in text.splitlines():
        row = re.match(
            r"\|\s*(\d{4}-\d\d-\d\d \d\d:\d\d)\s*\|.*\|\s*trained\s*\|\s*(\d+) min (\d+) s\s*\|",
            line,
        )
        if row:
            when = dt.datetime.strptime(row[1], "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
            seconds = int(row[2]) * 60 + int(row[3])
            if found is None or when > found[0]:
                found = (when, float(seconds))
    return found


# --- processes: memory and CPU --------------------------------------------------------------


def _tree(process: psutil.Process) -> List[psutil.Process]:
    return [process, *process.children(recursive=True)]


def tree_rss(process: psutil.Process) -> Optional[int]:
    """RSS of a process and all its descendants (None when it is gone)."""
    total = 0
    try:
        members = _tree(process)
    except psutil.Error:
        return None
    for member in members:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def tree_cpu(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its living descendants."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        for member in _tree(process):
            with contextlib.suppress(psutil.Error):
                times = member.cpu_times()
                total += times.user + times.system
    return total


class MemorySampler:
    """Samples the RSS of watched processes (each with its children) in a thread.

    Keeps the peak per label over the whole benchmark and over the current window
    (`window_peaks` returns and restarts it), so each load run has its own peaks.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peaks: Dict[str, int] = {}
        self._watched: Dict[str, psutil.Process] = {}
        self._window: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self._watched[label] = psutil.Process(pid)
        self.sample()

    def forget(self, prefix: str) -> None:
        with self._lock:
            for label in [k for k in self._watched if k.startswith(prefix)]:
                del self._watched[label]

    def window_peaks(self) -> Dict[str, int]:
        self.sample()
        with self._lock:
            peaks, self._window = self._window, {}
        return peaks

    def sample(self) -> None:
        with self._lock:
            watched = list(self._watched.items())
        for label, process in watched:
            rss = tree_rss(process)
            if rss is None:
                continue
            with self._lock:
                self.peaks[label] = max(self.peaks.get(label, 0), rss)
                self._window[label] = max(self._window.get(label, 0), rss)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


# --- the systems under load -----------------------------------------------------------------


@dataclass
class System:
    """Something to load: its name, its processes by label and fresh conversations."""

    name: str
    processes: Callable[[], Dict[str, int]]
    conversations: Callable[[int], List[Conversation]]
    watched_as: str = ""  # the memory sampler's label prefix, when not the name

    @property
    def prefix(self) -> str:
        return f"{self.watched_as or self.name}: "


def free_port() -> int:
    from tests.conftest import free_port as free

    return free()


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def first_answer(url: str, process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    """Send "hello" until the server answers it (the clock of a cold start stops there)."""
    body = {"sender": f"cold-start-{uuid.uuid4().hex[:8]}", "message": "hello"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        try:
            answer = httpx.post(url, json=body, timeout=60)
            if answer.status_code == 200 and answer.json():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no answer from {url} within {timeout:.0f} s")


@contextlib.contextmanager
def stock_system(bot: StockBot, sampler: MemorySampler, findings: Findings) -> Iterator[System]:
    """`rasa run` of the stock bot on a free port until the block ends."""
    port = free_port()
    log = bot.folder / "serve.log"
    with open(log, "w") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            bot.serve_command(port),
            cwd=bot.folder,
            env=environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        sampler.watch("stock: Rasa", process.pid)
        url = f"http://127.0.0.1:{port}{bot.webhook}"
        with terminal.status("stock Rasa: starting until its first answer..."):
            first_answer(url, process, log)
        findings.cold_start.append(
            ("stock: `rasa run` until its first answer", time.monotonic() - started)
        )
        findings.idle_bytes[STOCK] = tree_rss(psutil.Process(process.pid)) or 0
        numbers = itertools.count()
        yield System(
            STOCK,
            lambda: {"Rasa": process.pid},
            lambda n: [Conversation(url, f"stock-{next(numbers)}") for _ in range(n)],
        )
    finally:
        stop(process)
        sampler.forget("stock: ")


class People:
    """Seeded load people handed out once each: every conversation is a different person."""

    def __init__(self, services: Any, url: str, count: int) -> None:
        self.services = services
        self.url = url
        self.emails = iter(seed_load_people(services.engine, count))

    def conversations(self, count: int) -> List[Conversation]:
        chosen = [next(self.emails) for _ in range(count)]
        return [
            Conversation(self.url, email, {"Authorization": f"Bearer {self.services.token(email)}"})
            for email in chosen
        ]


def people_needed(plan: Plan) -> int:
    """Conversations of one system: every load run, the long conversation, the profile."""
    return 2 * sum(plan.concurrencies) + 30


@contextlib.contextmanager
def project_system(
    workdir: Path, sampler: MemorySampler, findings: Findings
) -> Iterator[Tuple[System, Any]]:
    """The project's stack (tests/e2e/conftest.running_stack) until the block ends."""
    import redis

    from tests.e2e.conftest import running_stack

    redis.Redis.from_url(PROJECT_REDIS_URL).flushdb()
    status = terminal.status("project: starting services, action server, Rasa and portal...")
    status.start()
    started = time.monotonic()
    try:
        with running_stack(
            workdir, assistant.model_path(), {"REDIS_URL": PROJECT_REDIS_URL}
        ) as stack:
            webhook = f"{stack.rasa_url}/webhooks/portal/webhook"
            first_answer(webhook, stack.processes[1], workdir / "stack.log")
            findings.cold_start.append(
                (
                    "project: the whole stack (services, action server, Rasa, portal) "
                    "until its first answer",
                    time.monotonic() - started,
                )
            )
            status.stop()
            yield _project(stack, sampler, findings), stack
    finally:
        status.stop()


def _project(stack: Any, sampler: MemorySampler, findings: Findings) -> System:
    def processes() -> Dict[str, int]:
        return {
            "Rasa": stack.processes[1].pid,
            "action server": stack.processes[0].pid,
            "account services": stack.services.process.pid,
            "portal": stack.processes[2].pid,
        }

    for label, pid in processes().items():
        sampler.watch(f"project: {label}", pid)
    findings.idle_bytes[PROJECT] = tree_rss(psutil.Process(stack.processes[1].pid)) or 0
    people = People(
        stack.services, f"{stack.rasa_url}/webhooks/portal/webhook", people_needed(findings.plan)
    )
    return System(PROJECT, processes, people.conversations)


def restart_rasa(
    stack: Any, command: List[str], watch: Optional[Callable[[int], None]] = None
) -> float:
    """Stop the stack's Rasa, start `command` in its place; seconds until its first answer.

    `watch` is given the new process id as soon as it exists (memory from its first moment).
    """
    stop(stack.processes[1])
    log = stack.workdir / "stack.log"
    with open(log, "a") as out:
        started = time.monotonic()
        stack.processes[1] = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=stack.env, stdout=out, stderr=subprocess.STDOUT
        )
    if watch:
        watch(stack.processes[1].pid)
    first_answer(f"{stack.rasa_url}/webhooks/portal/webhook", stack.processes[1], log)
    return time.monotonic() - started


# --- measuring ------------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<40}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=terminal,
    )


def load(
    label: str,
    conversations: List[Conversation],
    mix: Sequence[Message],
    *,
    seconds: Optional[float] = None,
    turns: Optional[int] = None,
    warmup: int = 1,
) -> LoadResult:
    """`run_load` with a progress bar (by elapsed seconds, or by turns)."""
    with _progress() as progress:
        total = turns if turns is not None else seconds
        task = progress.add_task(label, total=total, note="")
        counts = Counter[str]()
        began = time.monotonic()

        def seen(sample: Sample) -> None:
            counts["errors" if sample.error else "answers"] += 1
            done = counts.total() if turns is not None else time.monotonic() - began
            note = f"{counts['answers']} answers, {counts['errors']} errors"
            progress.update(task, completed=min(done, total or 0), note=note)

        result = asyncio.run(
            run_load(
                conversations, mix, seconds=seconds, turns=turns, warmup=warmup, on_sample=seen
            )
        )
        progress.update(task, completed=total)
    return result


def measure_load(
    system: System, mixes: Sequence[str], sampler: MemorySampler, findings: Findings
) -> None:
    """Every mix at every concurrency of the plan, each with its own fresh conversations."""
    me = psutil.Process()
    for mix in mixes:
        for concurrency in findings.plan.concurrencies:
            conversations = system.conversations(concurrency)
            watched = {label: psutil.Process(pid) for label, pid in system.processes().items()}
            sampler.window_peaks()
            before = {label: tree_cpu(p) for label, p in watched.items()}
            mine = sum(me.cpu_times()[:2])
            machine = _busy_cpu()
            result = load(
                f"{system.name}: {mix}, {concurrency} conversations",
                conversations,
                MIXES[mix],
                seconds=findings.plan.production_seconds
                if system.name.startswith("production")
                else findings.plan.load_seconds,
            )
            cpu = {label: tree_cpu(p) - before[label] for label, p in watched.items()}
            cpu["load generator"] = sum(me.cpu_times()[:2]) - mine
            others = max(0.0, _busy_cpu() - machine - sum(cpu.values())) / result.seconds
            prefix = system.prefix
            memory = {
                k[len(prefix) :]: v
                for k, v in sampler.window_peaks().items()
                if k.startswith(prefix)
            }
            findings.runs.append(Run(system.name, mix, result, cpu, memory, others))


def _busy_cpu() -> float:
    """CPU seconds the whole machine has spent working (all cores), since boot.

    Linux counts guest time inside user time, and steal is the hypervisor's, not ours.
    """
    times = psutil.cpu_times()
    interrupts = getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    return times.user + times.nice + times.system + interrupts


def measure_turns(system: System, findings: Findings) -> None:
    """One conversation, small talk until the last mark (and the window around it)."""
    turns = max(findings.plan.turn_marks) + TURN_WINDOW
    result = load(
        f"{system.name}: one conversation, {turns} turns",
        system.conversations(1),
        SMALL_TALK,
        turns=turns,
        warmup=0,
    )
    findings.turns[system.name] = result.samples


# --- profile ------------------------------------------------------------------------------

PROFILE_BOOT = (
    "import sys; from bench.performance import serve_profiled; "
    "serve_profiled(sys.argv[1], sys.argv[2:])"
)
SAMPLE_EVERY = 0.005
# The part of a turn a sample belongs to: the outermost frame on its stack that matches a
# rule of the first tier that has one (Rasa's processor steps, then the conversation layer,
# then the channel that calls it).
AREA_TIERS: Tuple[Tuple[Tuple[str, Tuple[str, ...], str], ...], ...] = (
    (
        ("rasa/core/lock_store.py", (), "lock store (Redis)"),
        (
            "rasa/core/processor.py",
            (
                "fetch_tracker_and_update_session",
                "fetch_tracker_with_initial_session",
                "get_tracker",
                "_update_tracker_session",
            ),
            "reading the conversation (tracker store)",
        ),
        ("rasa/core/processor.py", ("save_tracker",), "saving the conversation (tracker store)"),
        ("rasa/core/processor.py", ("parse_message",), "understanding the message (NLU)"),
        (
            "rasa/core/processor.py",
            ("predict_next_with_tracker_if_should", "_predict_next_with_tracker"),
            "choosing the next action (policies)",
        ),
        (
            "rasa/core/processor.py",
            ("_run_action", "execute_side_effects"),
            "running actions (incl. the call to the action server)",
        ),
    ),
    (("bot/chat/", (), "conversation layer (identity, metadata)"),),
    (("bot/channels/", (), "portal channel"),),
)
OTHER_AREA = "HTTP server, event loop and the rest"
# For a missed target: the design change that takes away the largest area's time.
REMEDIES = {
    "lock store (Redis)": "the lock is already two asynchronous commands a turn "
    "(bot/chat/lock_store.py); what remains is Redis's round trip: keep the lock in the "
    "process for a conversation pinned to one replica (sticky routing)",
    "reading the conversation (tracker store)": "the kept trackers already cost one indexed "
    "query a turn; drop it where the lock store has already proven nobody else wrote "
    "(a version kept beside the lock)",
    "saving the conversation (tracker store)": "write the turn's events in one multi-row "
    "INSERT without the ORM's unit of work, and without the version query the read made",
    "understanding the message (NLU)": "a cheaper NLU pipeline per message (fewer "
    "featurizers, a smaller DIET) or a cache of the parses of frequent texts",
    "choosing the next action (policies)": "the states are already computed once per event "
    "(bot/chat/incremental_states.py); index RulePolicy's rules by their last state instead "
    "of trying all of them at every prediction",
    "running actions (incl. the call to the action server)": "less work per custom action: "
    "send the action server only what the actions read (the slots and the latest message) "
    "instead of the whole serialized tracker (the answer's check is already a kept "
    "validator, bot/chat/action_responses.py)",
    "conversation layer (identity, metadata)": "verify a token and build the turn's "
    "metadata once per conversation (cached by token) instead of once per message",
    "portal channel": "a thinner channel handler: parse and answer with the least work per request",
    OTHER_AREA: "a second Rasa process on the second core (production mode's replicas)",
}


def serve_profiled(out: str, argv: List[str]) -> None:
    """Run `python -m bot <argv>` while a thread samples every Python thread's stack.

    A small wall-clock sampler (py-spy is not installed here): every SAMPLE_EVERY seconds
    it records each thread's stack, and at exit writes {"frames", "samples": [[time,
    main thread?, [frame ids root to leaf]], ...]} to `out` for `profile_windows`.
    """
    import atexit
    import runpy

    codes: Dict[Any, int] = {}
    names: List[str] = []
    samples: List[Tuple[float, int, Tuple[int, ...]]] = []
    main = threading.main_thread().ident
    done = threading.Event()

    def frame_id(code: Any) -> int:
        if code not in codes:
            codes[code] = len(names)
            names.append(f"{_short(code.co_filename)}:{code.co_name}")
        return codes[code]

    def sample() -> None:
        me = threading.get_ident()
        while not done.wait(SAMPLE_EVERY):
            now = time.time()
            for ident, top in sys._current_frames().items():
                if ident == me:
                    continue
                stack = []
                frame: Optional[Any] = top
                while frame is not None:
                    stack.append(frame_id(frame.f_code))
                    frame = frame.f_back
                samples.append((now, int(ident == main), tuple(reversed(stack))))

    sampler = threading.Thread(target=sample, name="bench-stack-sampler", daemon=True)

    def write() -> None:
        done.set()
        sampler.join(timeout=5)
        Path(out).write_text(json.dumps({"frames": names, "samples": samples}))

    sampler.start()
    atexit.register(write)
    sys.argv = ["bot", *argv]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


def _short(filename: str) -> str:
    for marker in ("site-packages/", f"{PROJECT_ROOT}/", "lib/python3.10/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def area_of(stack: Sequence[str]) -> str:
    """The part of a turn a sampled stack (root to leaf, "path:function") belongs to."""
    for tier in AREA_TIERS:
        for frame in stack:
            path, _, function = frame.rpartition(":")
            for prefix, functions, area in tier:
                if path.startswith(prefix) and (not functions or function in functions):
                    return area
    return OTHER_AREA


def profile_windows(
    profile: Dict[str, Any], idle: Tuple[float, float], windows: Sequence[Tuple[str, float, float]]
) -> List[ProfileWindow]:
    """Busy time by area and function in each (name, start, end) window.

    A main-thread sample is idle when its leaf frame is one of those that make up most
    of the `idle` window (no request in flight): the event loop waiting in its C code
    shows as the Python frame that called it.
    """
    frames: List[str] = profile["frames"]
    samples = [(t, main, [frames[i] for i in stack]) for t, main, stack in profile["samples"]]
    leaves = Counter(s[-1] for t, main, s in samples if main and idle[0] <= t <= idle[1] and s)
    total = sum(leaves.values())
    idle_leaves = {leaf for leaf, n in leaves.items() if n >= 0.05 * total}
    found = []
    for name, start, end in windows:
        inside = [(main, s) for t, main, s in samples if start <= t <= end and s]
        main_stacks = [s for main, s in inside if main]
        busy = [s for s in main_stacks if s[-1] not in idle_leaves]
        others = [s for main, s in inside if not main and not _waiting(s[-1])]
        count = max(1, len(busy))
        areas = Counter(area_of(s) for s in busy)
        inclusive = Counter(frame for s in busy for frame in set(s))
        own = Counter(s[-1] for s in busy)
        hotspots = {
            area: spot
            for area in areas
            if (spot := _hotspot([s for s in busy if area_of(s) == area])) is not None
        }
        found.append(
            ProfileWindow(
                name,
                end - start,
                len(main_stacks),
                len(busy),
                [(a, n / count) for a, n in areas.most_common()],
                [
                    (f, n / count)
                    for f, n in inclusive.most_common()
                    if n / count < 0.9 and f.startswith(("rasa/", "bot/", "actions/"))
                ][:15],
                [(f, n / count) for f, n in own.most_common(12)],
                len(others),
                hotspots,
            )
        )
    return found


def _hotspot(stacks: List[List[str]]) -> Optional[Tuple[str, float]]:
    """The project's or Rasa's function under most of `stacks` but not under nearly all."""
    through: Counter = Counter()
    depth: Dict[str, int] = {}
    for stack in stacks:
        for position, frame in enumerate(stack):
            if frame.startswith(("rasa/", "bot/", "actions/")) and frame not in stack[:position]:
                through[frame] += 1
                depth[frame] = max(depth.get(frame, 0), position)
    below = [(n, depth[f], f) for f, n in through.items() if n < 0.9 * len(stacks)]
    if not below:
        return None
    n, _, frame = max(below)
    return frame, n / len(stacks)


def _waiting(leaf: str) -> bool:
    """A thread parked in a wait (an idle pool worker, a timer) rather than working."""
    return leaf.rsplit(":", 1)[-1] in {"wait", "_worker", "select", "poll", "get", "sleep"}


def profile_project(
    stack: Any, system: System, findings: Findings, missed: List[Goal], long_talker: Conversation
) -> None:
    """Restart the project's Rasa under the stack sampler and load it as the missed targets did."""
    out = stack.workdir / "rasa-profile.json"
    command = assistant.serve_command(
        stack.settings, assistant.model_path(), stack.workdir / "endpoints.yml"
    )
    assert command[1:3] == ["-m", "bot"], command
    with terminal.status("profile: restarting Rasa under the stack sampler..."):
        restart_rasa(stack, [sys.executable, "-c", PROFILE_BOOT, str(out), *command[3:]])
        idle_start = time.time()
        time.sleep(2)
        idle = (idle_start, time.time())
    seconds = findings.plan.profile_seconds
    windows = []
    names = {goal.name for goal in missed}
    if any(not name.startswith(("latency at turn", "Rasa process")) for name in names):
        start = time.time()
        load(
            "profile: small talk, 10 conversations",
            system.conversations(10),
            SMALL_TALK,
            seconds=seconds,
        )
        windows.append(("small talk, 10 conversations", start, time.time()))
    if any(name.startswith("account questions") for name in names):
        start = time.time()
        load(
            "profile: account questions, 10",
            system.conversations(10),
            ACCOUNT_QUESTIONS,
            seconds=seconds,
        )
        windows.append(("account questions, 10 conversations", start, time.time()))
    if any(name.startswith("latency at turn") for name in names):
        # Each conversation's first turn (outside the window) starts its session or, for the
        # long one, reads it back from the store after the restart.
        for name, talker in (
            ("one conversation past its last mark (30 turns)", long_talker),
            ("one new conversation (30 turns)", system.conversations(1)[0]),
        ):
            load(f"profile: {name}, first turn", [talker], SMALL_TALK, turns=1, warmup=0)
            start = time.time()
            load(f"profile: {name}", [talker], SMALL_TALK, turns=30, warmup=0)
            windows.append((name, start, time.time()))
    stop(stack.processes[1], timeout=60)
    if not out.exists():
        findings.profile_note = (
            "the profiled Rasa process wrote no profile (it did not exit cleanly)"
        )
        return
    findings.profile = profile_windows(json.loads(out.read_text()), idle, windows)


# --- the project's and the stock bot's training --------------------------------------------


def project_training(plan: Plan, reuse: bool) -> Training:
    """The project's full training: this `make bench` run's figure, or timed here."""
    size = assistant.model_path().stat().st_size
    figure = last_training_figure(TRAINING_REPORT.read_text()) if TRAINING_REPORT.exists() else None
    now = dt.datetime.now(dt.timezone.utc)
    if figure and reuse and now - figure[0] <= TRAINING_FRESH:
        how = (
            f"`rasa train --force` timed by bench.training_time earlier in this `make bench` "
            f"run ({figure[0]:%H:%M} UTC)"
        )
        return Training(figure[1], size, how)
    if plan.quick:
        if figure:
            how = (
                "not re-measured in quick mode: bench.training_time's last figure "
                f"({figure[0]:%Y-%m-%d %H:%M} UTC)"
            )
            return Training(figure[1], size, how)
        return Training(None, size, "not measured in quick mode (no bench/reports/training.md)")
    with tempfile.TemporaryDirectory() as out, _progress() as progress:
        progress.add_task("project: full training (rasa train --force)", total=None, note="")
        log = Path(out) / "train.log"
        started = time.monotonic()
        with open(log, "w") as handle:
            code = subprocess.call(
                [*assistant.train_command(Path(out), "bench"), "--force"],
                cwd=PROJECT_ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        seconds = time.monotonic() - started
        if code != 0:
            raise RuntimeError(f"training failed:\n{log.read_text()[-3000:]}")
        size = assistant.model_path(Path(out), "bench").stat().st_size
    return Training(seconds, size, "`rasa train --force` into a temporary folder, timed here")


def stock_training(bot: StockBot) -> Training:
    when = bot.built.replace("T", " ")[:16]
    how = "`rasa init --no-prompt` (copies the template, trains from scratch), " + (
        f"timed when the cache was built ({when} UTC)" if bot.from_cache else "timed in this run"
    )
    return Training(bot.train_seconds, bot.model_bytes, how)


# --- production mode ------------------------------------------------------------------------


@contextlib.contextmanager
def one_replica_entry(prod: Any) -> Iterator[Tuple[str, int]]:
    """A second nginx, configured as `make run-prod`'s but with replica 1 alone."""
    from bot.production import nginx_command, nginx_dir, write_nginx_config
    from tests.conftest import settings_for_tests

    # Only /webhooks/ is used here; the other locations need valid addresses all the same.
    settings = settings_for_tests(
        ENTRY_PORT=str(free_port()),
        SERVICES_URL=prod.services.base_url,
        PORTAL_PORT=prod.services.base_url.rsplit(":", 1)[1],
    )
    config = write_nginx_config(settings, [int(prod.replicas[0].rsplit(":", 1)[1])])
    log = config.parent / "nginx.out"
    with open(log, "w") as out:
        process = subprocess.Popen(nginx_command(config), stdout=out, stderr=subprocess.STDOUT)
    entry = f"http://127.0.0.1:{settings.entry_port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(f"{entry}/nginx-health"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the one-replica nginx did not start: {log.read_text()}")
            time.sleep(0.2)
        yield entry, process.pid
    finally:
        stop(process)
        shutil.rmtree(nginx_dir(settings), ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def production_processes(prod: Any, extra: Dict[str, int]) -> Dict[str, int]:
    """The runner's parts by name (each with its workers), the replicas by number."""
    kinds = {
        "-m bot services": "account services (2 workers)",
        "-m bot actions": "action server (2 workers)",
        "-m bot.portal": "portal",
        "-m bot.slack": "Slack app",
        "nginx": "nginx (two replicas)",
    }
    found: Dict[str, int] = {}
    for child in psutil.Process(prod.runner.pid).children():
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline())
            for marker, label in kinds.items():
                if marker in command:
                    found[label] = child.pid
    for number in (1, 2):
        found[f"Rasa replica {number}"] = prod.replica_pid(number)
    return {**found, **extra}


def measure_production(workdir: Path, sampler: MemorySampler, findings: Findings) -> None:
    """The same load through nginx, to replica 1 alone and to both replicas."""
    from tests.e2e.prod_stack import missing_prerequisite, running_prod_stack

    problem = missing_prerequisite()
    if problem:
        findings.production = f"not measured: {problem}"
        return
    with terminal.status("production mode: migrating, starting two replicas and nginx..."):
        stack = running_prod_stack(workdir)
        prod = stack.__enter__()
    try:
        people = People(prod.services, "", 2 * people_needed(findings.plan))
        with one_replica_entry(prod) as (one_entry, nginx_pid):
            for name, entry in ((PROD_ONE, one_entry), (PROD_TWO, prod.entry)):
                url = f"{entry}/webhooks/portal/webhook"

                def conversations(count: int, url: str = url) -> List[Conversation]:
                    return [replace(c, url=url) for c in people.conversations(count)]

                def processes() -> Dict[str, int]:
                    return production_processes(prod, {"nginx (one replica)": nginx_pid})

                for label, pid in processes().items():
                    sampler.watch(f"production: {label}", pid)
                system = System(name, processes, conversations, watched_as="production")
                measure_load(system, (SMALL, ACCOUNT), sampler, findings)
            sampler.forget("production: ")
    finally:
        with terminal.status("production mode: stopping..."):
            stack.__exit__(None, None, None)
        shutil.rmtree(prod.nginx_dir, ignore_errors=True)  # the runner leaves its nginx's
    findings.production = (
        f"`make run-prod`'s layout (tests/e2e/prod_stack.py): PostgreSQL for the accounts and "
        f"the conversations, Redis lock store, services and action server with 2 workers each, "
        f"two Rasa replicas, nginx. '1 replica' goes through a second nginx with the same "
        f"configuration but replica 1 alone (replica 2 stays up, idle); "
        f"{findings.plan.production_seconds:.0f} s per run after one warm-up turn per "
        f"conversation."
    )


# --- the run --------------------------------------------------------------------------------


def measure(plan: Plan, reuse_training: bool, workdir: Path) -> Findings:
    findings = Findings(plan)
    began = time.monotonic()
    with MemorySampler() as sampler:
        if assistant.model_is_stale():
            with terminal.status("the project's model is stale: training it (make train)..."):
                if assistant.train() != 0:
                    raise RuntimeError("training the project's model failed")
            findings.notes.append("The project's model was stale and was trained first.")
        with terminal.status("stock Rasa: the cached `rasa init` bot (or building it)..."):
            bot = stock_bot()
        findings.training[STOCK] = stock_training(bot)
        findings.training[PROJECT] = project_training(plan, reuse_training)

        with stock_system(bot, sampler, findings) as stock:
            measure_load(stock, (SMALL,), sampler, findings)
            measure_turns(stock, findings)

        with project_system(workdir / "project", sampler, findings) as (project, stack):
            measure_load(project, (SMALL, ACCOUNT), sampler, findings)
            long_talker = project.conversations(1)[0]
            measure_turns(replace(project, conversations=lambda _: [long_talker]), findings)
            if not plan.quick:
                with terminal.status("project: restarting Rasa alone until its first answer..."):
                    command = assistant.serve_command(
                        stack.settings, assistant.model_path(), stack.workdir / "endpoints.yml"
                    )
                    seconds = restart_rasa(
                        stack, command, lambda pid: sampler.watch("project: Rasa", pid)
                    )
                findings.cold_start.append(
                    ("project: Rasa alone (the rest up) until its first answer", seconds)
                )
            findings.memory = dict(sampler.peaks)
            every = findings_goals(findings)
            missed = [g for g in every if not g.met]
            if plan.always_profile or (missed and not plan.quick):
                sampler.forget("project: Rasa")  # the profiled process is not the one measured
                profile_project(stack, project, findings, missed or every, long_talker)
            elif missed:
                findings.profile_note = (
                    "Quick mode takes no profile: `make bench` (the full run) profiles the "
                    "Rasa process when a target is missed."
                )
            sampler.forget("project: ")

        if plan.production:
            try:
                measure_production(workdir / "production", sampler, findings)
            except Exception as exc:  # reported: the rest of the run still stands
                findings.production = f"failed: {type(exc).__name__}: {str(exc)[:1500]}"
        else:
            findings.production = "not measured in quick mode"
        findings.memory = dict(sampler.peaks)
    findings.seconds = time.monotonic() - began
    return findings


def findings_goals(findings: Findings) -> List[Goal]:
    def result(system: str, mix: str) -> Optional[LoadResult]:
        run = findings.run(system, mix, 10)
        return run.result if run else None

    return goals(
        result(STOCK, SMALL),
        result(PROJECT, SMALL),
        result(PROJECT, ACCOUNT),
        latency_at_turns(findings.turns.get(PROJECT, []), findings.plan.turn_marks),
        findings.memory.get("project: Rasa"),
    )


# --- the report -----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _mib(count: Optional[int]) -> str:
    return f"{count / MIB:.0f}" if count else "-"


LOAD_HEADER = (
    "| system | mix | conversations | turns each | answered | errors | msg/s | p50 | p95 | p99 "
    "| max |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
)


def _run_row(run: Run) -> str:
    r = run.result
    each = len(r.samples) / r.concurrency + 1  # the warm-up turn included
    return (
        f"| {run.system} | {run.mix} | {r.concurrency} | {each:.0f} | {len(r.answered)} | "
        f"{r.errors} | "
        f"{r.throughput:.1f} | {r.percentile(50):.0f} | {r.percentile(95):.0f} | "
        f"{r.percentile(99):.0f} | {max(r.answered, default=math.nan) * 1000:.0f} |"
    )


def plots(findings: Findings, stem: str) -> Dict[str, str]:
    """PNG plots beside the report; returns their file names by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: Dict[str, str] = {}
    series = sorted({(run.system, run.mix) for run in findings.runs})
    if series:
        figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5))
        for system, mix in series:
            runs = [r for r in findings.runs if (r.system, r.mix) == (system, mix)]
            runs.sort(key=lambda r: r.result.concurrency)
            xs = [r.result.concurrency for r in runs]
            style = "--" if system.startswith("production") else "-"
            label = f"{system}: {mix}"
            left.plot(xs, [r.result.throughput for r in runs], style, marker="o", label=label)
            middle.plot(xs, [r.result.percentile(50) for r in runs], style, marker="o", label=label)
            right.plot(xs, [r.result.percentile(95) for r in runs], style, marker="o", label=label)
        for axis, title in (
            (left, "throughput (answered msg/s)"),
            (middle, "p50 latency (ms)"),
            (right, "p95 latency (ms)"),
        ):
            axis.set_title(title)
            axis.set_xlabel("concurrent conversations")
            axis.set_xscale("log")
            axis.set_xticks(findings.plan.concurrencies)
            axis.set_xticklabels([str(c) for c in findings.plan.concurrencies])
            axis.grid(alpha=0.3)
        middle.set_yscale("log")
        right.set_yscale("log")
        right.axhline(250, color="grey", linestyle=":", label="target p95 (project, 10)")
        left.set_ylim(bottom=0)
        left.legend(fontsize=7)
        figure.tight_layout()
        made["load"] = f"{stem}_load.png"
        figure.savefig(REPORTS / made["load"], dpi=100)
        plt.close(figure)
    if findings.turns:
        figure, axis = plt.subplots(figsize=(10, 4))
        for system, samples in sorted(findings.turns.items()):
            points = [(s.turn, s.seconds * 1000) for s in samples if not s.error]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            line = axis.plot(xs, ys, linewidth=0.5, alpha=0.4)[0]
            rolling = [statistics.median(ys[max(0, i - 4) : i + 5]) for i in range(len(ys))]
            axis.plot(
                xs, rolling, color=line.get_color(), linewidth=2, label=f"{system} (median of 9)"
            )
        for mark in findings.plan.turn_marks:
            axis.axvline(mark, color="grey", linestyle=":", linewidth=0.8)
        axis.set_title("latency by turn of one conversation (small talk)")
        axis.set_xlabel("turn")
        axis.set_ylabel("ms")
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        made["turns"] = f"{stem}_turns.png"
        figure.savefig(REPORTS / made["turns"], dpi=100)
        plt.close(figure)
    return made


def render(findings: Findings, pictures: Dict[str, str], command: str) -> str:
    import rasa

    plan = findings.plan
    now = dt.datetime.now(dt.timezone.utc)
    memory_total = psutil.virtual_memory().total / 2**30
    cpu = _cpu_model()
    lines = [
        "# Performance: the project's full stack against stock Rasa"
        + (" (quick run)" if plan.quick else ""),
        "",
        f"Measured {now:%Y-%m-%d %H:%M} UTC on {cpu}, {os.cpu_count()} cores, "
        f"{memory_total:.0f} GiB, Python {platform.python_version()}, Rasa {rasa.__version__}: "
        f"`{command}`, {findings.seconds / 60:.1f} minutes in all. One system at a time on this "
        f"machine; the load generator (bench/load.py, one asyncio process) shares its cores.",
        "",
        "- **project**: the development stack (`tests/e2e/conftest.running_stack`): the portal "
        "channel with a bearer token per conversation, each conversation a different seeded "
        "buyer of Acme (bench/load_people.py); the action server calling the account services; "
        "the project's SQL tracker store on SQLite and the Redis lock store; "
        "models/assistant.tar.gz.",
        "- **stock**: `rasa init --no-prompt` of the same Rasa, untouched, served by `rasa run` "
        "on the REST channel only; its endpoints.yml configures nothing, so Rasa's defaults "
        "apply: **an in-memory tracker store** and lock store, and no action server (the "
        "template's bot runs no custom action). Each conversation is a different sender.",
        "",
    ]
    lines += _targets_section(findings)
    lines += _load_section(findings, pictures)
    lines += _cpu_section(findings)
    lines += _turns_section(findings, pictures)
    lines += _start_section(findings)
    lines += _memory_section(findings)
    lines += _production_section(findings)
    lines += _profile_section(findings)
    if findings.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in findings.notes], ""]
    return "\n".join(lines)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def _targets_section(findings: Findings) -> List[str]:
    lines = [
        "## Targets (issue 14, 2 cores)",
        "",
        "| target | measured | limit | verdict |",
        "|---|---|---|---|",
    ]
    for goal in findings_goals(findings):
        measured = f"{_number(goal.measured)} {goal.unit}" if goal.measured_known else "-"
        if goal.detail:
            measured += f" ({goal.detail})"
        limit = f"{'at most' if goal.at_most else 'at least'} {_number(goal.limit)} {goal.unit}"
        verdict = "**met**" if goal.met else f"**{goal.verdict()}**"
        lines.append(f"| {goal.name} | {measured} | {limit} | {verdict} |")
    lines += [
        "",
        "1 GB is taken as 10^9 bytes (954 MiB)."
        + (
            f" Quick mode's last turn is {max(findings.plan.turn_marks)}, not 500."
            if findings.plan.quick
            else ""
        ),
        "",
    ]
    return lines


def _load_section(findings: Findings, pictures: Dict[str, str]) -> List[str]:
    plan = findings.plan
    lines = [
        "## Closed-loop load",
        "",
        f"N conversations at once, each sending its next message as soon as the previous one "
        f"is answered, for {plan.load_seconds:.0f} s after one warm-up turn per conversation "
        f"(not counted: it starts the session). Throughput counts answered messages; an "
        f"error is a status other than 200, a failed request, an empty answer, or (account "
        f"questions) an answer without the expected account data. Latency in ms, answered "
        f"messages only. *Turns each*: messages per conversation, on average; a conversation's "
        f"turns get slower as it grows (see latency by turn), most of all stock's. Small talk: "
        f"{', '.join(repr(m.text) for m in SMALL_TALK)}; account "
        f"questions: {', '.join(repr(m.text) for m in ACCOUNT_QUESTIONS)}.",
        "",
        *LOAD_HEADER,
    ]
    lines += [_run_row(run) for run in findings.runs if not run.system.startswith("production")]
    lines.append("")
    if "load" in pictures:
        lines += [f"![throughput and latency by concurrency]({pictures['load']})", ""]
    lines += [
        "### Ratios project / stock",
        "",
        "| conversations | small talk msg/s | small talk p50 | small talk p95 "
        "| account questions msg/s / stock small talk msg/s |",
        "|---|---|---|---|---|",
    ]
    for concurrency in plan.concurrencies:
        stock = findings.run(STOCK, SMALL, concurrency)
        small = findings.run(PROJECT, SMALL, concurrency)
        account = findings.run(PROJECT, ACCOUNT, concurrency)
        if not (stock and small):
            continue
        s, p = stock.result, small.result
        account_ratio = (
            f"{account.result.throughput / s.throughput:.2f}" if account and s.throughput else "-"
        )
        lines.append(
            f"| {concurrency} | {p.throughput / s.throughput:.2f} | "
            f"{p.percentile(50) / s.percentile(50):.2f} | "
            f"{p.percentile(95) / s.percentile(95):.2f} | "
            f"{account_ratio} |"
        )
    lines.append("")
    failing = [run for run in findings.runs if run.result.errors or run.result.warmup_errors]
    if failing:
        lines += ["### Errors", ""]
        for run in failing:
            kinds = ", ".join(f"{k} x{n}" for k, n in run.result.error_kinds().items())
            first = "; ".join(run.result.first_errors() + run.result.warmup_errors[:2])
            lines.append(
                f"- {run.system}, {run.mix}, {run.result.concurrency} conversations: "
                f"{kinds or 'warm-up only'} ({len(run.result.warmup_errors)} in warm-up). "
                f"First: {first}"
            )
        lines.append("")
    else:
        lines += ["No errors in any run (warm-up turns included).", ""]
    return lines


def _cpu_section(findings: Findings) -> List[str]:
    lines = [
        "## CPU per answered message",
        "",
        "CPU time (user + system) each process used during the run, divided by the answered "
        "messages, in ms; a process's workers are counted with it. On 2 cores a system whose "
        "total is T ms can answer at most 2000 / T messages a second, and one Rasa process, "
        "whose turns run on one event loop (one core), at most 1000 / its own ms. *Other "
        "work*: cores busy on average with anything else on the machine meanwhile (PostgreSQL, "
        "Redis, other programs); more than a few tenths means the figures were disturbed.",
        "",
        "| system | mix | conversations | per process (ms) | total ms | other work (cores) |",
        "|---|---|---|---|---|---|",
    ]
    for run in findings.runs:
        per = run.cpu_ms_per_message()
        parts = ", ".join(f"{label} {ms:.1f}" for label, ms in per.items())
        lines.append(
            f"| {run.system} | {run.mix} | {run.result.concurrency} | {parts} | "
            f"{sum(per.values()):.1f} | {run.other_cores:.2f} |"
        )
    return lines + [""]


def _turns_section(findings: Findings, pictures: Dict[str, str]) -> List[str]:
    plan = findings.plan
    marks = plan.turn_marks
    lines = [
        "## Latency by turn of one conversation",
        "",
        f"One conversation sends small talk, one message at a time, until turn "
        f"{max(marks) + TURN_WINDOW}; latency at turn n is the median of turns n-{TURN_WINDOW} "
        f"to n+{TURN_WINDOW}, in ms.",
        "",
        "| turn | " + " | ".join(sorted(findings.turns)) + " | project / stock |",
        "|---|" + "---|" * len(findings.turns) + "---|",
    ]
    at = {name: latency_at_turns(samples, marks) for name, samples in findings.turns.items()}
    for mark in marks:
        cells = [_ms(at[name].get(mark, math.nan)) for name in sorted(at)]
        stock, project = at.get(STOCK, {}).get(mark), at.get(PROJECT, {}).get(mark)
        ratio = f"{project / stock:.2f}" if stock and project else "-"
        lines.append(f"| {mark} | " + " | ".join(cells) + f" | {ratio} |")
    for name in sorted(at):
        if 5 in at[name] and len(at[name]) > 1:
            last = max(at[name])
            lines.append("")
            lines.append(f"{name}: turn {last} / turn 5 = {at[name][last] / at[name][5]:.2f}.")
    errors = {n: sum(1 for s in samples if s.error) for n, samples in findings.turns.items()}
    if any(errors.values()):
        lines.append(f"Errors in the long conversation: {errors}.")
    lines.append("")
    if "turns" in pictures:
        lines += [f"![latency by turn]({pictures['turns']})", ""]
    return lines


def _start_section(findings: Findings) -> List[str]:
    lines = [
        "## Cold start, training and model size",
        "",
        '| cold start (process start until the first answer to "hello") | seconds |',
        "|---|---|",
    ]
    lines += [f"| {what} | {seconds:.1f} |" for what, seconds in findings.cold_start]
    if findings.plan.quick:
        lines.append("| project: Rasa alone | not measured in quick mode |")
    lines += ["", "| system | full training | model size | how |", "|---|---|---|---|"]
    for name, figure in findings.training.items():
        took = f"{figure.seconds / 60:.1f} min ({figure.seconds:.0f} s)" if figure.seconds else "-"
        lines.append(f"| {name} | {took} | {figure.model_bytes / MIB:.1f} MiB | {figure.how} |")
    return lines + [""]


def _memory_section(findings: Findings) -> List[str]:
    runs = findings.runs
    lines = [
        "## Peak memory (RSS, MiB)",
        "",
        "Sampled every 0.2 s; a process's children (workers) are added to it. Whole run: the "
        "peak over everything the benchmark did with that system (start, load, long "
        "conversation). PostgreSQL and Redis are the machine's shared servers and not counted.",
        "",
        f"| process | whole run | peak during the load runs at "
        f"{' / '.join(str(c) for c in findings.plan.concurrencies)} conversations |",
        "|---|---|---|",
    ]
    for label, peak in findings.memory.items():
        system, _, part = label.partition(": ")
        groups: Dict[str, List[str]] = {}
        for run in runs:
            if run.system.startswith(system) and part in run.memory:
                group = f"{_layout(run.system, system)}{run.mix}"
                groups.setdefault(group, []).append(_mib(run.memory[part]))
        during = "; ".join(f"{group}: {' / '.join(peaks)}" for group, peaks in groups.items())
        lines.append(f"| {label} | {_mib(peak)} | {during} |")
    if findings.idle_bytes:
        idle = ", ".join(f"{name} {_mib(n)} MiB" for name, n in findings.idle_bytes.items())
        lines += [
            "",
            f"Rasa right after its first answer (model loaded, no load yet): {idle}. The stock "
            f"Rasa is watched from its start, model loading included; the project's processes "
            f"from the moment its stack is up"
            + (
                ", and its Rasa again from the start of its restart."
                if not findings.plan.quick
                else "."
            ),
        ]
    return lines + [""]


def _layout(system: str, watched_as: str) -> str:
    """ "1 replica: " for "production, 1 replica" watched as "production"; else nothing."""
    rest = system.removeprefix(watched_as).lstrip(", ")
    return f"{rest}: " if rest else ""


def _production_section(findings: Findings) -> List[str]:
    lines = ["## Production mode (nginx, 1 and 2 Rasa replicas)", "", findings.production, ""]
    runs = [run for run in findings.runs if run.system.startswith("production")]
    if runs:
        lines += [
            *LOAD_HEADER,
            *[_run_row(run) for run in runs],
            "",
        ]
    return lines


def _profile_section(findings: Findings) -> List[str]:
    missed = [g for g in findings_goals(findings) if not g.met and g.measured_known]
    if not missed and not findings.profile:
        return ["## Profile", "", "Every target is met: no profile taken.", ""]
    lines = ["## Where the time goes" + (" (missed targets)" if missed else ""), ""]
    if findings.profile_note:
        lines += [findings.profile_note, ""]
    run = findings.run(PROJECT, SMALL, 10)
    if run:
        per = run.cpu_ms_per_message()
        total = sum(per.values())
        biggest = max((k for k in per if k != "load generator"), key=per.__getitem__)
        stock = findings.run(STOCK, SMALL, 10)
        spent = ", ".join(f"{k} {v:.1f}" for k, v in per.items())
        lines.append(
            f"At 10 conversations of small talk the project spends {total:.1f} ms of CPU per "
            f"answered message across its processes ({spent}); the largest is {biggest}. "
            f"Rasa's {per.get('Rasa', 0):.1f} ms on its one event loop allow at most "
            f"{1000 / max(per.get('Rasa', 0), 0.001):.0f} messages a second."
        )
        if stock and stock.result.throughput:
            wanted = 2 * stock.result.throughput
            lines.append(
                f"Twice stock's throughput ({wanted:.1f} msg/s) needs at most "
                f"{1000 / wanted:.1f} ms of Rasa's time per message (one process), and at "
                f"most {(os.cpu_count() or 1) * 1000 / wanted:.1f} ms of CPU per message in "
                f"all on {os.cpu_count()} cores."
            )
        lines.append("")
    if findings.profile:
        lines += [
            "The project's Rasa process was restarted under a stack sampler (bench/performance.py "
            f"`serve_profiled`: every {SAMPLE_EVERY * 1000:.0f} ms it records every Python "
            "thread's stack; py-spy is not installed here) and loaded as the missed targets "
            "were. Shares are of the samples in which the event loop (Rasa's main thread) "
            "was busy; waiting for the action server or the database is idle time and not "
            "counted. Areas are the step of Rasa's message processing on the stack.",
            "",
        ]
        for window in findings.profile:
            lines += [
                f"### {window.name}",
                "",
                f"{window.busy} busy of {window.samples} main-thread samples in "
                f"{window.seconds:.0f} s ({window.busy / max(1, window.samples):.0%} busy); "
                f"{window.other_threads} busy samples in other Python threads.",
                "",
                "| area of the turn | share of busy time | mostly in (share of the area) |",
                "|---|---|---|",
                *[
                    f"| {area} | {share:.0%} | {_spot(window.hotspots.get(area))} |"
                    for area, share in window.areas
                ],
                "",
                "| function (time with it on the stack) | share |",
                "|---|---|",
                *[f"| `{name}` | {share:.0%} |" for name, share in window.inclusive],
                "",
                "| function running when sampled | share |",
                "|---|---|",
                *[f"| `{name}` | {share:.0%} |" for name, share in window.own],
                "",
            ]
    if missed:
        lines += ["### Design changes that would meet the missed targets", ""]
    for goal in missed:
        lines.append(f"- **{goal.name}** ({goal.verdict()}): {design_change(goal, findings)}")
    return lines + [""]


def _spot(spot: Optional[Tuple[str, float]]) -> str:
    return f"`{spot[0]}` ({spot[1]:.0%})" if spot else ""


def design_change(goal: Goal, findings: Findings) -> str:
    """The change aimed at the largest measured cost behind a missed target."""
    if goal.name.startswith("Rasa process"):
        idle = findings.idle_bytes.get(PROJECT, 0)
        peak = findings.memory.get("project: Rasa", 0)
        if idle >= 0.8 * peak:
            return (
                f"{_mib(idle)} of the {_mib(peak)} MiB are there before any load (the model and "
                f"the libraries): serve with fewer TensorFlow components in the model (a "
                f"smaller DIET, no second CountVectors featurizer) or load only the NLU and "
                f"policy parts serving needs."
            )
        return (
            f"the process grows from {_mib(idle)} MiB idle to {_mib(peak)} MiB under load: "
            f"bound what it keeps per conversation (the live trackers) by count and age."
        )
    window = _window_for(goal, findings.profile)
    if window is None or not window.areas:
        return "no profile of this load was taken; see the CPU table for the largest process."
    if goal.name.startswith("latency at turn"):
        new = next((w for w in findings.profile if w.name.startswith("one new conversation")), None)
        grown = _largest_growth(new, window) if new else window.areas[0][0]
        return (
            f"on the long conversation the area that grows most against a new one is "
            f"*{grown}*: {REMEDIES.get(grown, REMEDIES[OTHER_AREA])}."
        )
    changes: List[str] = []
    for area, share in window.areas[:2]:
        if share >= 0.2 or not changes:
            remedy = REMEDIES.get(area, REMEDIES[OTHER_AREA])
            spot = window.hotspots.get(area)
            where = f", mostly in {_spot(spot)}" if spot else ""
            changes.append(f"*{area}* takes {share:.0%} of Rasa's busy time{where}: {remedy}")
    return "; ".join(changes) + "."


def _window_for(goal: Goal, windows: List[ProfileWindow]) -> Optional[ProfileWindow]:
    wanted = {
        "small talk": "small talk",
        "account questions": "account questions",
        "latency at turn": "one conversation past",
    }
    for start, prefix in wanted.items():
        if goal.name.startswith(start):
            return next((w for w in windows if w.name.startswith(prefix)), None)
    return None


def _largest_growth(new: ProfileWindow, long: ProfileWindow) -> str:
    """The area whose busy samples per turn grew most from a new conversation to a long one."""
    before = {area: share * new.busy for area, share in new.areas}
    after = {area: share * long.busy for area, share in long.areas}
    return max(after, key=lambda area: after[area] - before.get(area, 0.0))


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 10 conversations, short runs")
    parser.add_argument(
        "--reuse-training",
        action="store_true",
        help="the project's training time from bench.training_time, if written in the last hour",
    )
    parser.add_argument("--seconds", type=float, help="seconds of each load run")
    parser.add_argument("--no-production", action="store_true", help="skip production mode")
    parser.add_argument(
        "--profile", action="store_true", help="profile Rasa even when every target is met"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.seconds:
        plan = replace(plan, load_seconds=args.seconds)
    if args.no_production:
        plan = replace(plan, production=False)
    if args.profile:
        plan = replace(plan, always_profile=True, profile_seconds=plan.profile_seconds or 6.0)
    command = "python -m bench.performance " + " ".join(argv)
    # A SIGTERM unwinds like Ctrl-C, so that every process started here is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="bench-performance-") as workdir:
        (Path(workdir) / "project").mkdir()
        (Path(workdir) / "production").mkdir()
        findings = measure(plan, args.reuse_training, Path(workdir))
    report = plan.report
    pictures = plots(findings, report.stem)
    report.write_text(render(findings, pictures, command.strip()), encoding="utf-8")
    terminal.print(f"report: {report.relative_to(PROJECT_ROOT)} ({findings.seconds / 60:.1f} min)")
    for goal in findings_goals(findings):
        colour = "green" if goal.met else "red"
        terminal.print(f"[{colour}]{goal.name}: {goal.verdict()}[/{colour}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
