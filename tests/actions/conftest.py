"""Run actions the way the action server does, against the real (seeded) services."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.services import use_services
from bot.client import AccountServices
from tests.actions.harness import DOMAIN, Outcome, build_tracker


@pytest.fixture
async def run(services):
    """run(action, token, **tracker_fields) -> Outcome."""
    client = AccountServices(services.base_url)
    use_services(client)

    async def runner(action: Action, token: Optional[str], **fields: Any) -> Outcome:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, build_tracker(token, **fields), DOMAIN)
        return Outcome(dispatcher.messages, [dict(e) for e in events])

    yield runner
    use_services(None)
    await client.aclose()
