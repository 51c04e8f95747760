"""Identity tokens: what is signed is what is verified; anything else is refused."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from bot import tokens

SECRET = "s" * 40


def test_round_trip_keeps_user_account_and_channel():
    token = tokens.mint_token(SECRET, user_id=7, account_id=3, channel="slack")
    identity = tokens.verify_token(SECRET, token)
    assert (identity.user_id, identity.account_id, identity.channel) == (7, 3, "slack")


def test_expired_token_is_told_apart_from_a_forged_one():
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    expired = tokens.mint_token(
        SECRET, user_id=1, account_id=1, now=past, ttl=dt.timedelta(minutes=5)
    )
    with pytest.raises(tokens.TokenExpired):
        tokens.verify_token(SECRET, expired)
    forged = tokens.mint_token("another-secret-" * 3, user_id=1, account_id=1)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(SECRET, forged)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "iss": "someone-else"},
        {"sub": "not-a-number", "iss": tokens.ISSUER},
        {"sub": "1", "iss": tokens.ISSUER, "chn": "carrier-pigeon"},
    ],
)
def test_wrong_claims_are_invalid(claims):
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    token = jwt.encode({"iat": now, "exp": now + 60, **claims}, SECRET, algorithm="HS256")
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(SECRET, token)


def test_none_algorithm_is_refused():
    token = jwt.encode(
        {"sub": "1", "iss": tokens.ISSUER, "iat": 0, "exp": 2**31}, None, algorithm="none"
    )
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(SECRET, token)
