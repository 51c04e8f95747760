"""Start every part of the product as its own process, keep each one up, stop them cleanly.

Each part is a command line and a health URL. A part that exits is started again
with backoff while the others keep serving (`supervise`); Ctrl-C stops them all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import httpx
from rich.console import Console
from rich.table import Table

from bot import assistant
from bot.settings import PROJECT_ROOT, Settings
from bot.slack import NOT_CONFIGURED as SLACK_NOT_CONFIGURED

console = Console()
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 60.0


@dataclass
class Part:
    name: str
    command: List[str]
    health_url: str
    public_url: str
    process: Optional[subprocess.Popen] = None
    # Settings for this part alone, over the runner's environment (a replica's own port).
    env: Dict[str, str] = field(default_factory=dict)
    # False: start the next part at once and wait for this one's health with the next
    # part's (two Rasa replicas load their models side by side).
    wait: bool = True
    # Supervision (`supervise`): when it last started, how often it failed in a row,
    # and when it is due to start again after exiting (None: it is running).
    started_at: float = 0.0
    failures: int = 0
    restart_at: Optional[float] = None


def parts(settings: Settings) -> List[Part]:
    """Every part, in start order: each one's dependencies come before it."""
    base = settings.services_url
    rasa = f"http://{settings.host}:{settings.rasa_port}"
    actions = f"http://{settings.actions_host}:{settings.actions_port}"
    return [
        Part(
            "account services",
            [sys.executable, "-m", "bot", "services"],
            f"{base}/health",
            f"{base}/docs (OpenAPI {base}/openapi.json)",
        ),
        Part(
            "action server",
            assistant.actions_command(settings),
            f"{actions}/health",
            f"{actions}/webhook",
        ),
        Part(
            "assistant (Rasa)",
            assistant.serve_command(settings, assistant.model_path()),
            f"{rasa}/webhooks/portal/",
            f"{rasa}/webhooks/portal/webhook (Bearer token)",
        ),
        Part(
            "demo portal + chat widget",
            [sys.executable, "-m", "bot.portal"],
            f"http://{settings.host}:{settings.portal_port}/health",
            f"http://{settings.host}:{settings.portal_port}/ (open this; sign in as a demo person)",
        ),
    ] + _slack_app(settings)


def _slack_app(settings: Settings) -> List[Part]:
    """The Slack app when it is configured (README, "Slack"); `run_all` says how otherwise."""
    if not settings.slack_configured:
        return []
    url = f"http://{settings.host}:{settings.slack_port}"
    where = "Socket Mode" if settings.slack_app_token else f"{url}/slack/events (request URL)"
    return [Part("Slack app", [sys.executable, "-m", "bot.slack"], f"{url}/health", where)]


def _wait_healthy(part: Part, timeout: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if part.process is not None and part.process.poll() is not None:
            return False
        try:
            if httpx.get(part.health_url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def stop(running: List[Part], grace: float = 15.0) -> None:
    """Stop the parts, last started first; nothing is left running when this returns.

    Each part gets SIGINT (Rasa and uvicorn shut down cleanly on it), then SIGTERM,
    then SIGKILL, with a shared deadline so a stuck part cannot hold the others up.
    """
    steps = ((signal.SIGINT, grace), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))
    for signum, seconds in steps:
        alive = [p.process for p in reversed(running) if p.process and p.process.poll() is None]
        if not alive:
            return
        for process in alive:
            process.send_signal(signum)
        deadline = time.monotonic() + seconds
        for process in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))


def _start(part: Part) -> None:
    # Own session: a terminal's Ctrl-C reaches only this runner, which then
    # stops the parts in order instead of all of them racing at once.
    env = {**os.environ, **part.env} if part.env else None
    part.process = subprocess.Popen(part.command, cwd=PROJECT_ROOT, start_new_session=True, env=env)
    part.started_at = time.monotonic()


def supervise(started: List[Part], *, poll: float = 0.5) -> None:
    """Keep every part running until interrupted: a part that exits is started again.

    The others go on serving meanwhile. Restarts back off (1, 2, 4 ... 30 seconds), and
    a part that then stays up for `STABLE_SECONDS` starts again from the shortest wait,
    so a part that crashes at once does not spin and one that fails once a day is back
    within a second.
    """
    while True:
        now = time.monotonic()
        for part in started:
            assert part.process is not None
            if part.process.poll() is None:
                if part.failures and now - part.started_at > STABLE_SECONDS:
                    part.failures = 0
                continue
            if part.restart_at is None:
                wait = min(MAX_BACKOFF_SECONDS, 2.0**part.failures)
                part.restart_at = now + wait
                console.print(
                    f"[red]{part.name} exited with code {part.process.returncode}; "
                    f"starting it again in {wait:.0f} s[/red]"
                )
            elif now >= part.restart_at:
                part.failures += 1
                part.restart_at = None
                _start(part)
                console.print(f"{part.name} started again (restart {part.failures})")
        time.sleep(poll)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_all(settings: Settings) -> int:
    """`make run`: every part on this machine with the embedded defaults."""
    return run_parts(
        settings,
        parts(settings),
        note="A demo token: [bold]make token EMAIL=ana.admin@acme.example[/bold]",
    )


def run_parts(settings: Settings, wanted: List[Part], note: str) -> int:
    """Start `wanted` in order and supervise them; returns when Ctrl-C is pressed."""
    started: List[Part] = []
    # Explicit handlers: a runner started from a script or with `&` inherits an ignored
    # SIGINT, and the parts it starts would inherit that too (handlers reset on exec).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if assistant.model_is_stale():
            console.print(
                "[bold]training the assistant's model (a few minutes on 2 cores)...[/bold]"
            )
            if assistant.train() != 0 or not assistant.model_path().exists():
                console.print("[red]training failed; see the output above[/red]")
                return 1
        assistant.write_endpoints(settings)
        pending: List[Part] = []
        for part in wanted:
            _start(part)
            started.append(part)
            pending.append(part)
            if not part.wait:
                continue
            for waited in pending:
                with console.status(f"starting {waited.name}..."):
                    if not _wait_healthy(waited):
                        console.print(
                            f"[red]{waited.name} did not start; see its output above[/red]"
                        )
                        return 1
            pending = []
        table = Table(title="Premier account assistant is running", show_lines=False)
        table.add_column("part")
        table.add_column("address")
        for part in started:
            table.add_row(part.name, part.public_url)
        console.print(table)
        console.print(f"{note}   Stop everything: [bold]Ctrl-C[/bold]")
        if not settings.slack_configured:
            console.print(SLACK_NOT_CONFIGURED)
        supervise(started)
        return 1  # supervise returns only through Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        console.print("stopping...")
        return 0
    finally:
        stop(started)
