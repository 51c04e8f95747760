"""A chat turn costs one call to the services: no /me before every action, no switch per turn."""

from __future__ import annotations

from typing import List

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionAccountInfo, ActionSwitchAccount
from actions.devices import ActionListDevices
from actions.services import ME_TTL_SECONDS, use_services
from bot.chat.identity import Verifier
from bot.client import AccountServices
from bot.tokens import load_public_key
from tests.actions.harness import DOMAIN, Outcome, build_tracker, entity
from tests.conftest import TEST_VERIFY_KEY

DIEGO = "diego.admin@globex.example"


class CountingTransport(httpx.AsyncBaseTransport):
    """The real HTTP transport, with a record of every request that went through it."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.paths: List[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.fixture
async def counted(services):
    transport = CountingTransport()
    client = AccountServices(services.base_url, transport=transport, me_ttl=ME_TTL_SECONDS)
    use_services(client, Verifier(load_public_key(TEST_VERIFY_KEY)))

    async def run(action, token, **fields) -> Outcome:
        transport.paths.clear()
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, build_tracker(token, **fields), DOMAIN)
        return Outcome(dispatcher.messages, [dict(e) for e in events])

    yield run, transport
    use_services(None)
    await client.aclose()


async def test_after_the_first_turn_a_question_costs_one_call(services, counted):
    run, transport = counted
    token = services.token(DIEGO, "Globex México")
    await run(ActionListDevices(), token)
    assert transport.paths == ["/me", "/devices"]
    await run(ActionListDevices(), token)
    assert transport.paths == ["/devices"]


async def test_a_switch_calls_the_switch_endpoint_once_and_later_turns_never(
    services, counted, audit_rows
):
    run, transport = counted
    token = services.token(DIEGO, "Globex México")
    acme = services.account_id("Acme Corporation")
    switches_before = len(audit_rows(action="switch_account"))
    switched = await run(
        ActionSwitchAccount(), token, entities=[entity("account_name", "Acme Corporation")]
    )
    assert switched.slot("active_account") == acme
    assert transport.paths.count("/me/switch-account") == 1
    for _ in range(3):
        outcome = await run(ActionAccountInfo(), token, slots={"active_account": acme})
        assert outcome.values("utter_account_info")["account"] == "Acme Corporation"
        assert "/me/switch-account" not in transport.paths
    assert len(audit_rows(action="switch_account")) == switches_before + 1
