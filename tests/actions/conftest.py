"""Run actions the way the action server does, against the real (seeded) services."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.services import use_services
from bot.chat.identity import Verifier
from bot.client import AccountServices
from bot.tokens import load_public_key
from tests.actions.harness import DOMAIN, Outcome, build_tracker
from tests.conftest import TEST_VERIFY_KEY


@pytest.fixture
async def run(services):
    """run(action, token, **tracker_fields) -> Outcome."""
    client = AccountServices(services.base_url, timeout=10)  # a loaded CI machine is slow
    use_services(client, Verifier(load_public_key(TEST_VERIFY_KEY)))

    async def runner(action: Action, token: Optional[str], **fields: Any) -> Outcome:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, build_tracker(token, **fields), DOMAIN)
        return Outcome(dispatcher.messages, [dict(e) for e in events])

    yield runner
    use_services(None)
    await client.aclose()
