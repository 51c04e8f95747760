"""The typed client against the real services: typed results, the error tree, retries."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from bot.client import AccountServices, errors
from bot.observability import request_scope
from bot.services import schemas as s


@pytest.fixture
async def client(services):
    async with AccountServices(services.base_url) as client:
        yield client


async def test_reads_come_back_typed(services, client):
    ana = client.as_user(services.token("ana.admin@acme.example"))
    me = await ana.me()
    assert isinstance(me, s.Me)
    assert me.account is not None
    assert (me.role, me.account.name, me.access_group) == (
        "site_admin",
        "Acme Corporation",
        "Acme IT",
    )
    orders = await ana.recent_orders()
    assert orders and all(o.placed_at >= dt.datetime.now() - dt.timedelta(days=31) for o in orders)
    device = await ana.device("7xk-2m93")
    assert (device.service_tag, device.warranty_status) == ("7XK2M93", "active")


async def test_public_support_contacts_need_no_token(client):
    contacts = await client.support_contacts("emea")
    assert [c.region for c in contacts] == ["EMEA"]


async def test_denial_raises_forbidden_with_reason_and_helpers(services, client):
    sara = client.as_user(services.token("sara.shopper@acme.example"))
    with pytest.raises(errors.Forbidden) as denied:
        await sara.renewal_quote(["3FJ8K21"], "prosupport", 1)
    assert denied.value.reason == "role"
    assert {"name": "Ana Álvarez", "email": "ana.admin@acme.example"} in denied.value.contacts


async def test_other_accounts_object_is_not_found(services, client):
    lena = client.as_user(services.token("lena.buyer@initech.example"))
    with pytest.raises(errors.NotFound):
        await lena.order("100000001")


async def test_expired_token_raises_session_expired(services, client):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    stale = client.as_user(
        services.token("ana.admin@acme.example", now=past, ttl=dt.timedelta(minutes=5))
    )
    with pytest.raises(errors.SessionExpired):
        await stale.me()


async def test_bad_shape_raises_invalid_request(services, client):
    ana = client.as_user(services.token("ana.admin@acme.example"))
    with pytest.raises(errors.InvalidRequest):
        await ana.order("12345")


async def test_switch_account_returns_a_token_for_the_other_account(services, client):
    diego = client.as_user(services.token("diego.admin@globex.example"))
    switched = await diego.switch_account("acme")
    assert (switched.account.name, switched.role) == ("Acme Corporation", "buyer")
    acme_orders = await client.as_user(switched.token).recent_orders()
    assert all(o.number.startswith("1") for o in acme_orders)


async def test_idempotent_calls_are_retried_on_503():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}})
        return httpx.Response(200, json=[])

    async with AccountServices("http://services.test", transport=httpx.MockTransport(handler)) as c:
        assert await c.as_user("t").devices() == []
    assert len(calls) == 3


async def test_switch_account_is_not_retried():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}})

    async with AccountServices("http://services.test", transport=httpx.MockTransport(handler)) as c:
        with pytest.raises(errors.Unavailable):
            await c.as_user("t").switch_account("Acme")
    assert len(calls) == 1


async def test_writes_need_an_idempotency_key(services, client):
    ben = client.as_user(services.token("ben.buyer@acme.example"))
    with pytest.raises(ValueError):
        await ben.reorder("100000001", idempotency_key="")


async def test_every_call_carries_the_request_id_of_the_message_it_answers():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("X-Request-ID"))
        return httpx.Response(200, json=[])

    async with AccountServices("http://services.test", transport=httpx.MockTransport(handler)) as c:
        with request_scope("0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"):
            await c.as_user("t").devices()
            await c.support_contacts()
        await c.support_contacts()  # outside a request: no id is made up
    assert seen == ["0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"] * 2 + [None]
