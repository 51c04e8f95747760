"""Identity tokens: short-lived HS256 JWTs naming a user and their active account.

The portal, the Slack app and the assistant mint them; the account services and
the chat channel verify them. Identity never comes from anything else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

import jwt

ISSUER = "premier-portal"
ALGORITHM = "HS256"
CHANNELS = frozenset({"portal", "slack", "api", "cli", "test"})
MAX_ID = 2**31 - 1  # ids are 32-bit in every database we run on


class TokenError(Exception):
    """Base: the token cannot be used."""


class TokenExpired(TokenError):
    """The token was genuine but its time is up: the person must sign in again."""


class TokenInvalid(TokenError):
    """Forged, malformed or for another issuer."""


@dataclass(frozen=True)
class Identity:
    """What a verified token says: who, in which account, through which channel."""

    user_id: int
    account_id: Optional[int]
    channel: str
    expires_at: dt.datetime


def mint_token(
    secret: str,
    *,
    user_id: int,
    account_id: Optional[int],
    channel: str = "portal",
    ttl: dt.timedelta = dt.timedelta(hours=1),
    now: Optional[dt.datetime] = None,
) -> str:
    """Sign a token for `user_id` acting in `account_id` (None: no account)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "acct": account_id,
        "chn": channel,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Identity:
    """Check signature, issuer and expiry.

    Raises:
        TokenExpired: the token is genuine but expired.
        TokenInvalid: anything else is wrong with it.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"the token is not valid: {exc}") from exc
    try:
        user_id = int(claims["sub"])
        account = claims.get("acct")
        account_id = int(account) if account is not None else None
        channel = str(claims.get("chn", "api"))
    except (TypeError, ValueError) as exc:
        raise TokenInvalid("the token's claims are malformed") from exc
    if channel not in CHANNELS:
        raise TokenInvalid("the token names an unknown channel")
    if not 0 < user_id <= MAX_ID or (account_id is not None and not 0 < account_id <= MAX_ID):
        raise TokenInvalid("the token's ids are out of range")
    return Identity(
        user_id=user_id,
        account_id=account_id,
        channel=channel,
        expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc),
    )
