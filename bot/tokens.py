"""Identity tokens: short-lived EdDSA (Ed25519) JWTs naming a user and their active account.

Only the account services hold the private key and mint tokens (the portal's
sign-in, the Slack link exchange, the demo `token` command on the services'
host). Every other part - the chat channels, the action server - holds the
public key: it can verify a token but cannot make one. Identity never comes from
anything else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "premier-services"
ALGORITHM = "EdDSA"
CHANNELS = frozenset({"portal", "slack", "api", "cli", "test"})
LANGUAGES = frozenset({"en", "es"})
MAX_ID = 2**31 - 1  # ids are 32-bit in every database we run on

PrivateKey = Union[str, bytes, Ed25519PrivateKey]
PublicKey = Union[str, bytes, Ed25519PublicKey]


class TokenError(Exception):
    """Base: the token cannot be used."""


class TokenExpired(TokenError):
    """The token was genuine but its time is up: the person must sign in again."""


class TokenInvalid(TokenError):
    """Forged, malformed, signed with another key or for another issuer."""


@dataclass(frozen=True)
class Identity:
    """What a verified token says: who, in which account, through which channel."""

    user_id: int
    account_id: Optional[int]
    channel: str
    expires_at: dt.datetime
    language: Optional[str] = None


def generate_key_pair() -> Tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    return private_pem, public_pem


def load_private_key(key: PrivateKey) -> Ed25519PrivateKey:
    if isinstance(key, Ed25519PrivateKey):
        return key
    loaded = serialization.load_pem_private_key(
        key.encode("ascii") if isinstance(key, str) else key, password=None
    )
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key")
    return loaded


def load_public_key(key: PublicKey) -> Ed25519PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    loaded = serialization.load_pem_public_key(key.encode("ascii") if isinstance(key, str) else key)
    if not isinstance(loaded, Ed25519PublicKey):
        raise ValueError("the token verification key must be an Ed25519 public key")
    return loaded


def mint_token(
    private_key: PrivateKey,
    *,
    user_id: int,
    account_id: Optional[int],
    channel: str = "portal",
    language: Optional[str] = None,
    ttl: dt.timedelta = dt.timedelta(hours=1),
    now: Optional[dt.datetime] = None,
) -> str:
    """Sign a token for `user_id` acting in `account_id` (None: no account).

    Only the account services call this: it needs the private key.
    """
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
    if language in LANGUAGES:
        claims["lng"] = language
    return jwt.encode(claims, load_private_key(private_key), algorithm=ALGORITHM)


def verify_token(public_key: PublicKey, token: str) -> Identity:
    """Check signature (EdDSA only: no HMAC, no "none"), issuer and expiry.

    Raises:
        TokenExpired: the token is genuine but expired.
        TokenInvalid: anything else is wrong with it.
    """
    try:
        claims = jwt.decode(
            token,
            load_public_key(public_key),
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
    language = claims.get("lng")
    return Identity(
        user_id=user_id,
        account_id=account_id,
        channel=channel,
        expires_at=dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc),
        language=language if language in LANGUAGES else None,
    )
