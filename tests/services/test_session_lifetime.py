"""A session ends: every token of a sign-in, renewed or switched, dies with it.

Through the real HTTP services (SQLite and PostgreSQL), which run with the default
SESSION_MAX_HOURS (12). Tokens are read back with the public key, as any part would.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Dict, Iterator

import httpx
import jwt
import pytest

from bot import tokens
from bot.client import AccountServices, errors
from bot.services import schemas as s
from tests.conftest import TEST_SIGNING_KEY, TEST_VERIFY_KEY, RunningServices

ADMIN = "ana.admin@acme.example"
DIEGO = "diego.admin@globex.example"  # site admin at Globex, buyer at Acme
MAX = dt.timedelta(hours=12)  # SESSION_MAX_HOURS, unset in the services' test environment
ENDED = "your session has ended; please sign in again"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _bearer(token: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _read(token: str) -> tokens.Identity:
    return tokens.verify_token(TEST_VERIFY_KEY, token)


def _ended_session_token(services: RunningServices, email: str = ADMIN) -> str:
    """Signed in 13 hours ago, yet with a fresh expiry (as a longer maximum would sign it)."""
    return tokens.mint_token(
        TEST_SIGNING_KEY,
        user_id=services.user_id(email),
        account_id=services.account_id("Acme Corporation"),
        channel="test",
        ttl=dt.timedelta(minutes=30),
        auth_time=_now() - dt.timedelta(hours=13),
        max_session=dt.timedelta(days=2),
    )


@pytest.fixture
def http(services: RunningServices) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=services.base_url, timeout=30) as client:
        yield client


def test_renewal_keeps_the_session_and_extends_only_the_token(services, http):
    signed_in = _now() - dt.timedelta(hours=2)
    first = services.token(ADMIN, auth_time=signed_in)  # lives 30 minutes
    started = _read(first)
    response = http.post("/me/token", headers=_bearer(first))
    assert response.status_code == 200, response.text
    body = response.json()
    renewed = _read(body["token"])
    assert (renewed.user_id, renewed.account_id, renewed.channel) == (
        started.user_id,
        started.account_id,
        "test",
    )
    assert (renewed.session_id, renewed.authenticated_at) == (started.session_id, signed_in)
    assert started.expires_at < renewed.expires_at <= _now() + dt.timedelta(minutes=61)
    assert dt.datetime.fromisoformat(body["expires_at"]) == renewed.expires_at
    assert dt.datetime.fromisoformat(body["session_ends_at"]) == signed_in + MAX
    # The renewed token is an ordinary token of the same session, and renews in turn.
    assert http.get("/me", headers=_bearer(body["token"])).json()["email"] == ADMIN
    again = http.post("/me/token", headers=_bearer(body["token"])).json()
    assert _read(again["token"]).session_id == started.session_id


def test_no_renewal_reaches_past_the_session_maximum(services, http):
    signed_in = _now() - dt.timedelta(hours=11, minutes=50)
    token = services.token(ADMIN, auth_time=signed_in)
    response = http.post("/me/token", headers=_bearer(token))
    assert response.status_code == 200, response.text
    renewed = _read(response.json()["token"])
    # Ten minutes are left of the session, not the 60 a fresh token would get.
    assert renewed.expires_at == signed_in + MAX
    assert renewed.authenticated_at == signed_in


def test_switching_account_keeps_the_session_and_its_end(services, http):
    signed_in = _now() - dt.timedelta(hours=11, minutes=50)
    token = services.token(DIEGO, "Globex México", auth_time=signed_in)
    response = http.post("/me/switch-account", json={"account": "acme"}, headers=_bearer(token))
    assert response.status_code == 200, response.text
    switched = _read(response.json()["token"])
    assert switched.account_id == services.account_id("Acme Corporation")
    assert (switched.session_id, switched.authenticated_at) == (
        _read(token).session_id,
        signed_in,
    )
    assert switched.expires_at == signed_in + MAX


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "/me", None),
        ("POST", "/me/token", None),
        ("POST", "/me/switch-account", {"account": "acme"}),
        ("GET", "/invoices", None),
    ],
)
def test_an_ended_session_is_refused_even_with_a_fresh_expiry(services, http, method, path, body):
    token = _ended_session_token(services)
    response = http.request(method, path, json=body, headers=_bearer(token))
    assert response.status_code == 401, response.text
    assert response.json() == {"error": {"code": "session_ended", "message": ENDED}}


@pytest.mark.parametrize("missing", ["auth_time", "sid"])
def test_a_token_without_its_session_is_not_valid(services, http, missing):
    now = int(time.time())
    claims = {
        "iss": tokens.ISSUER,
        "sub": str(services.user_id(ADMIN)),
        "acct": services.account_id("Acme Corporation"),
        "chn": "test",
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
        "sid": "s" * 22,
    }
    del claims[missing]
    token = jwt.encode(claims, tokens.load_private_key(TEST_SIGNING_KEY), algorithm="EdDSA")
    for method, path in (("GET", "/me"), ("POST", "/me/token")):
        response = http.request(method, path, headers=_bearer(token))
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_token_is_renewed_in_its_own_account_only(services, http):
    token = services.token(DIEGO, "Globex México")
    other = {s.ACCOUNT_HEADER: str(services.account_id("Acme Corporation"))}
    response = http.post("/me/token", headers={**_bearer(token), **other})
    assert response.status_code == 400, response.text
    assert "switch-account" in response.json()["error"]["message"]


async def test_the_client_renews_and_an_ended_session_is_session_expired(services):
    async with AccountServices(services.base_url) as client:
        renewed = await client.as_user(services.token(ADMIN)).renew_token()
        assert isinstance(renewed, s.TokenOut)
        assert (await client.as_user(renewed.token).me()).email == ADMIN
        ended = client.as_user(_ended_session_token(services))
        with pytest.raises(errors.SessionExpired) as refused:
            await ended.me()
        assert refused.value.message == ENDED
        with pytest.raises(errors.SessionExpired):
            await ended.renew_token()
        past = _now() - dt.timedelta(hours=2)
        expired = client.as_user(services.token(ADMIN, now=past, ttl=dt.timedelta(minutes=5)))
        with pytest.raises(errors.SessionExpired):  # too late to renew: sign in again
            await expired.renew_token()
