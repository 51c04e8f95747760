"""The Slack app as its own process, its Web API the local fake, for unit and end-to-end tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional

import httpx

from tests.conftest import (
    ROOT,
    TEST_SLACK_SERVICE_SECRET,
    RunningServices,
    free_port,
    service_env,
)
from tests.slack.fake_slack import FakeSlack, SlackSender

SIGNING_SECRET = "test-slack-signing-secret-" + "s" * 24
BOT_TOKEN = "xoxb-test-premier-bot-token"
SERVICE_SECRET = TEST_SLACK_SERVICE_SECRET  # what service_env gives the services too


@dataclass
class SlackApp:
    """A running Slack app: what Slack sends it (`slack`) and what it asked Slack (`fake`)."""

    slack: SlackSender
    fake: FakeSlack
    process: subprocess.Popen
    log: Path
    url: str


@contextlib.contextmanager
def running_slack_app(
    services: RunningServices,
    log: Path,
    *,
    rasa_port: Optional[int] = None,
    redis_url: Optional[str] = None,
    settings: Optional[Dict[str, str]] = None,
) -> Iterator[SlackApp]:
    """Start `python -m bot.slack` against `services` (and Rasa at `rasa_port`, if any);
    `settings` are more of its settings (e.g. the support channel)."""
    fake = FakeSlack().start()
    port = free_port()
    env = service_env(services.database_url, int(services.base_url.rsplit(":", 1)[1]))
    env.update(
        {
            "RASA_PORT": str(rasa_port or free_port()),  # no Rasa: nothing listens there
            "REDIS_URL": redis_url or "",
            "SLACK_PORT": str(port),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_SERVICE_SECRET": SERVICE_SECRET,
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": fake.api_url,
            **(settings or {}),
        }
    )
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.slack"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the Slack app exited:\n{log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the Slack app did not become healthy within 60 s")
                time.sleep(0.2)
            sender = SlackSender(f"{url}/slack/events", SIGNING_SECRET, fake)
            yield SlackApp(sender, fake, process, log, url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            fake.stop()
