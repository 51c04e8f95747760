"""The Slack app running against the real account services (no Rasa: what needs no turn)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.conftest import RunningServices
from tests.slack.harness import SlackApp, running_slack_app


@pytest.fixture(scope="module")
def slack_app(
    services: RunningServices, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackApp]:
    log = tmp_path_factory.mktemp("slack") / "slack.log"
    with running_slack_app(services, log) as app:
        yield app
