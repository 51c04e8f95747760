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


# --- sessions: a token carries its sign-in, and no token outlives the session ------------------


class _Removed:
    def __repr__(self) -> str:
        return "REMOVED"


REMOVED = _Removed()  # an override that leaves the claim out


def _claims(**overrides: object) -> str:
    """A token the services' key signs, from valid claims changed by `overrides`.

    An override may be a function of the current time (epoch seconds).
    """
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    base: dict = {
        "iss": tokens.ISSUER,
        "sub": "7",
        "acct": 3,
        "chn": "portal",
        "lng": "es",
        "iat": now,
        "exp": now + 600,
        "auth_time": now - 60,
        "sid": "s" * 22,
    }
    base.update({k: v(now) if callable(v) else v for k, v in overrides.items()})
    payload = {k: v for k, v in base.items() if v is not REMOVED}
    return jwt.encode(payload, tokens.load_private_key(PRIVATE), algorithm="EdDSA")


def test_a_sign_in_starts_a_session_and_a_successor_keeps_it():
    first = tokens.verify_token(PUBLIC, tokens.mint_token(PRIVATE, user_id=7, account_id=3))
    assert abs(first.authenticated_at - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(seconds=5)
    other = tokens.verify_token(PUBLIC, tokens.mint_token(PRIVATE, user_id=7, account_id=3))
    assert first.session_id != other.session_id  # every sign-in is a session of its own
    successor = tokens.verify_token(
        PUBLIC,
        tokens.mint_token(
            PRIVATE,
            user_id=7,
            account_id=4,
            auth_time=first.authenticated_at,
            session_id=first.session_id,
        ),
    )
    assert (successor.session_id, successor.authenticated_at) == (
        first.session_id,
        first.authenticated_at,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def test_no_token_outlives_its_session():
    signed_in = _now() - dt.timedelta(hours=11, minutes=50)
    token = tokens.mint_token(
        PRIVATE, user_id=7, account_id=3, ttl=dt.timedelta(hours=1), auth_time=signed_in
    )
    identity = tokens.verify_token(PUBLIC, token)
    assert identity.expires_at == signed_in + tokens.DEFAULT_SESSION_MAX
    with pytest.raises(tokens.SessionEnded):  # nothing is left of this session to renew
        tokens.mint_token(
            PRIVATE,
            user_id=7,
            account_id=3,
            auth_time=_now() - dt.timedelta(hours=13),
            session_id=identity.session_id,
        )


def test_an_ended_session_is_refused_even_when_the_token_has_not_expired():
    token = tokens.mint_token(
        PRIVATE,
        user_id=7,
        account_id=3,
        auth_time=_now() - dt.timedelta(hours=3),
        max_session=dt.timedelta(days=2),  # as a services with another setting would sign
    )
    assert tokens.verify_token(PUBLIC, token, max_session=dt.timedelta(hours=4)).user_id == 7
    with pytest.raises(tokens.SessionEnded) as ended:
        tokens.verify_token(PUBLIC, token, max_session=dt.timedelta(hours=2))
    assert isinstance(ended.value, tokens.TokenExpired)  # "sign in again", like an expiry
    old = _claims(auth_time=lambda now: now - 13 * 3600)
    with pytest.raises(tokens.SessionEnded):
        tokens.verify_token(PUBLIC, old)


def test_valid_claims_are_accepted():
    identity = tokens.verify_token(PUBLIC, _claims())
    assert (identity.user_id, identity.account_id, identity.language) == (7, 3, "es")
    assert tokens.verify_token(PUBLIC, _claims(acct=None, lng=REMOVED)).account_id is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth_time": REMOVED},
        {"sid": REMOVED},
        {"chn": REMOVED},
        {"acct": True},
        {"acct": "3"},
        {"acct": 3.0},
        {"sub": 7},  # PyJWT refuses it too; the contract is ours
        {"sub": "+1"},
        {"sub": " 1"},
        {"sub": "1 "},
        {"sub": "1_0"},
        {"sub": "07"},
        {"sub": "١"},  # ARABIC-INDIC DIGIT ONE
        {"sub": "７"},  # FULLWIDTH DIGIT SEVEN
        {"sub": "7\n"},
        {"chn": 1},  # refused before only because "1" is no channel name
        {"lng": 1},
        {"lng": True},
        {"lng": ["es"]},
        {"lng": "fr"},
        {"sid": 12345678901234567890},
        {"sid": "short"},
        {"sid": "s" * 21 + "!"},
        {"auth_time": "1700000000"},
        {"auth_time": True},
        {"auth_time": 1.5},
        {"auth_time": 2**62},
        pytest.param({"iat": lambda now: float(now)}, id="iat a float"),
        pytest.param({"exp": lambda now: float(now + 600)}, id="exp a float"),
        pytest.param({"exp": lambda now: str(now + 600)}, id="exp a string"),
        pytest.param({"auth_time": lambda now: now + 120}, id="signed in after it was issued"),
    ],
    ids=repr,
)
def test_claims_of_the_wrong_type_or_form_are_invalid(overrides):
    with pytest.raises(tokens.TokenInvalid):
        tokens.verify_token(PUBLIC, _claims(**overrides))
