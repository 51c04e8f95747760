"""The whole stack for conversations: services, action server and Rasa with a real model.

The model is trained once into models/ when missing or stale (the same check as
`make run`); conversations go through the portal channel exactly as the widget
and load tests send them.
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

import httpx
import pytest
import redis

from bot import assistant
from bot.settings import Settings, load_settings
from tests.conftest import (
    ROOT,
    RunningServices,
    free_port,
    service_env,
    start_services,
    stop_services,
)
from tests.slack.harness import SlackApp, running_slack_app

REDIS_URL = "redis://127.0.0.1:6379/3"
# The vendor's support channel, where the Slack app posts each new handoff.
SUPPORT_CHANNEL = "C0SUPPORT"


@dataclass
class Stack:
    services: RunningServices
    rasa_url: str
    processes: List[subprocess.Popen]
    workdir: Path
    settings: Settings
    # Every token sent: the secrets test looks for each one in the stores and the logs.
    tokens_sent: Set[str] = field(default_factory=set)
    # The demo portal with the chat widget (tests/e2e/test_widget*.py drive it in Chromium).
    portal_url: str = ""
    env: Dict[str, str] = field(default_factory=dict)

    def restart_rasa(self) -> None:
        """Stop the Rasa server and start it again on the same port; returns when it answers."""
        rasa = self.processes[1]
        rasa.terminate()
        try:
            rasa.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rasa.kill()
            rasa.wait()
        with open(self.workdir / "stack.log", "a") as log:
            self.processes[1] = subprocess.Popen(
                assistant.serve_command(
                    self.settings, assistant.model_path(), self.workdir / "endpoints.yml"
                ),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait(f"{self.rasa_url}/webhooks/portal/", self.processes[1], "the Rasa server")

    def say(
        self, text: str, token: Optional[str] = None, sender: str = "e2e"
    ) -> List[Dict[str, Any]]:
        """Send one message through the portal channel; returns the bot's messages."""
        if token:
            self.tokens_sent.add(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.rasa_url}/webhooks/portal/webhook",
            headers=headers,
            json={"sender": sender, "message": text},
            timeout=120,
        )
        response.raise_for_status()
        return response.json()

    def texts(self, text: str, token: Optional[str] = None, sender: str = "e2e") -> str:
        return "\n".join(m.get("text", "") for m in self.say(text, token, sender))


def _wait(url: str, process: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not become healthy in {timeout:.0f} s")


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        with running_stack(tmp_path_factory.mktemp("stack"), trained_model) as started:
            yield started
    except RuntimeError as exc:
        pytest.fail(str(exc))


@contextmanager
def running_stack(
    workdir: Path, trained_model: Path, overrides: Optional[Dict[str, str]] = None
) -> Iterator[Stack]:
    """Services, action server, Rasa and the portal on free ports, until the block ends.

    Also what `bench/handoff_latency.py` measures on. `overrides`: settings for every part.
    Raises:
        RuntimeError: a part did not come up (the message ends with the stack's log).
    """
    # A fresh world starts with an empty Redis database too: the Slack app remembers what it
    # posted per handoff id, and a new SQLite world numbers its handoffs from 1 again.
    redis.Redis.from_url(REDIS_URL).flushdb()
    services_log = open(workdir / "services.log", "w")  # noqa: SIM115 - closed below
    # Settings of every part. The handoff desk's clocks, shortened so that the unclaimed offer
    # and the requeue of a silent agent happen within a test (tests/e2e/test_handoff.py); the
    # services keep the agent's grace, the assistant the other two. JSON log lines, as in
    # production: one message is followed by its request id (tests/e2e/test_request_ids.py).
    every_part = {
        "HANDOFF_UNCLAIMED_SECONDS": "15",
        "HANDOFF_AGENT_GRACE_SECONDS": "8",
        "HANDOFF_POLL_MS": "500",
        "LOG_FORMAT": "json",
    }
    every_part.update(overrides or {})
    services = start_services(
        "sqlite", f"sqlite:///{workdir / 'premier.db'}", services_log, overrides=every_part
    )
    actions_port, rasa_port, portal_port = free_port(), free_port(), free_port()
    env = service_env(services.database_url, int(services.base_url.rsplit(":", 1)[1]))
    env.update(
        {
            "ACTIONS_PORT": str(actions_port),
            "RASA_PORT": str(rasa_port),
            "TRACKER_STORE_URL": f"sqlite:///{workdir / 'tracker.db'}",
            # Pinned so that a developer's .env cannot move them under the tests' feet.
            "ACTIONS_HOST": "127.0.0.1",
            # The production default: the fault tests measure how fast a person is told.
            "SERVICES_TIMEOUT_MS": "1200",
            "PORTAL_ORIGIN": "http://127.0.0.1:8080",
            # Redis for the lock store and for push, so a message pushed from another
            # process reaches a connection open on this Rasa server.
            "REDIS_URL": REDIS_URL,
            # The demo portal on a free port; its pages may open widget sockets on Rasa.
            "PORTAL_PORT": str(portal_port),
            "WIDGET_ORIGINS": f"http://127.0.0.1:{portal_port}",
            "CHAT_URL": f"http://127.0.0.1:{rasa_port}",
            **every_part,
        }
    )
    settings = load_settings(env, env_file=None)
    endpoints = assistant.write_endpoints(settings, workdir / "endpoints.yml")
    logs = open(workdir / "stack.log", "w")  # noqa: SIM115 - closed in the finally below
    processes: List[subprocess.Popen] = []
    try:
        actions = subprocess.Popen(
            assistant.actions_command(settings),
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        processes.append(actions)
        rasa = subprocess.Popen(
            assistant.serve_command(settings, trained_model, endpoints),
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        processes.append(rasa)
        _wait(f"http://127.0.0.1:{actions_port}/health", actions, "the action server")
        _wait(f"http://127.0.0.1:{rasa_port}/webhooks/portal/", rasa, "the Rasa server")
        portal = subprocess.Popen(
            [sys.executable, "-m", "bot.portal"],
            cwd=ROOT,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        processes.append(portal)
        _wait(f"http://127.0.0.1:{portal_port}/health", portal, "the demo portal")
        yield Stack(
            services,
            f"http://127.0.0.1:{rasa_port}",
            processes,
            workdir,
            settings,
            portal_url=f"http://127.0.0.1:{portal_port}",
            env=env,
        )
    except RuntimeError as exc:
        logs.flush()
        raise RuntimeError(f"{exc}\n{(workdir / 'stack.log').read_text()[-4000:]}") from None
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
        stop_services(services)
        services_log.close()


@pytest.fixture(scope="session")
def slack(stack: Stack) -> Iterator[SlackApp]:
    """The Slack app on this stack, its Web API the local fake (tests/slack/harness.py)."""
    log = stack.workdir / "slack.log"
    with running_slack_app(
        stack.services,
        log,
        rasa_port=stack.settings.rasa_port,
        redis_url=REDIS_URL,
        settings={"SLACK_SUPPORT_CHANNEL": SUPPORT_CHANNEL},
    ) as app:
        yield app
