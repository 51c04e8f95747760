"""The systems under load: started, handed out as a `System`, stopped when the block ends.

The stock `rasa init` bot on the REST channel, the project's development stack (each
conversation a different seeded person), and the project's Rasa restarted alone (for its
cold start, or under the profiler). Also the memory and CPU of a process with its children,
and the thread that samples every watched process's memory throughout the run.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import httpx
import psutil

from bench.load import Conversation
from bench.load_people import seed_load_people
from bench.performance.findings import Findings
from bench.performance.plan import PROJECT, STOCK, Plan, terminal
from bench.stock_rasa import StockBot, environment
from bot import assistant
from bot.settings import PROJECT_ROOT

# The project's stack gets a Redis database of its own: the lock store's keys are per
# conversation id, and the end-to-end tests' stack (database 3) numbers its people alike.
PROJECT_REDIS_URL = "redis://127.0.0.1:6379/9"


# --- processes: memory and CPU ----------------------------------------------------------------


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


# --- the systems under load -------------------------------------------------------------------


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
