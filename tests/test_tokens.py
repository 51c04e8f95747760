"""Identity tokens: what the services sign is what is verified; anything else is refused.

Only the private key signs; the public key every other part holds cannot.
"""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from bot import tokens

PRIVATE, PUBLIC = tokens.generate_key_pair()


def test_round_trip_keeps_user_account_channel_and_language():
    token = tokens.mint_token(PRIVATE, user_id=7, account_id=3, channel="slack", language="es")
    identity = tokens.verify_token(PUBLIC, token)
    assert (identity.user_id, identity.account_id, identity.channel) == (7, 3, "slack")
    assert identity.language == "es"


def test_expired_token_is_told_apart_from_a_forged_one():
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    expired = tokens.mint_token(
        PRIVATE, user_id=1, account_id=1, now=past, ttl=dt.timedelta(minutes=5)
    )
    with pytest.raises(tokens.TokenExpired):
        tokens.verify_token(PUBLIC, expired)
    other_private, _ = tokens.generate_key_pair()
    forged = tokens.mint_token(other_private, user_id=1, account_id=1)
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(PUBLIC, forged)


def test_the_public_key_cannot_sign():
    with pytest.raises(ValueError):
        tokens.mint_token(PUBLIC, user_id=1, account_id=1)


@pytest.mark.parametrize("secret", ["s" * 40, PUBLIC])
def test_an_hmac_token_is_refused_whatever_its_secret(secret):
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    claims = {"sub": "1", "iss": tokens.ISSUER, "iat": now, "exp": now + 60}
    try:
        token = jwt.encode(claims, secret, algorithm="HS256")
    except jwt.InvalidKeyError:  # PyJWT itself refuses a PEM key as an HMAC secret
        return
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(PUBLIC, token)


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
    signing = tokens.load_private_key(PRIVATE)
    token = jwt.encode({"iat": now, "exp": now + 60, **claims}, signing, algorithm="EdDSA")
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(PUBLIC, token)


def test_none_algorithm_is_refused():
    token = jwt.encode(
        {"sub": "1", "iss": tokens.ISSUER, "iat": 0, "exp": 2**31}, None, algorithm="none"
    )
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(PUBLIC, token)
