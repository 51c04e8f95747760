"""The measurements on a running system: closed-loop load, the long conversation, the profile.

Each load run gets fresh conversations and records the CPU and peak memory of every process
of its system meanwhile. Also the two systems' training times (the project's from this `make
bench` run's bench.training_time when fresh), and the project's Rasa loaded again under the
stack sampler of profile.py as the missed targets were.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import psutil
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
from bench.performance.findings import Findings, Run, Training
from bench.performance.goals import Goal
from bench.performance.plan import (
    MIXES,
    TRAINING_FRESH,
    TRAINING_REPORT,
    TURN_WINDOW,
    Plan,
    terminal,
)
from bench.performance.profile import PROFILE_BOOT, profile_windows
from bench.performance.systems import MemorySampler, System, restart_rasa, stop, tree_cpu
from bench.stock_rasa import StockBot
from bot import assistant
from bot.settings import PROJECT_ROOT

# --- load -------------------------------------------------------------------------------------


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


# --- the project's and the stock bot's training -----------------------------------------------


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


# --- the load under the profiler --------------------------------------------------------------


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
