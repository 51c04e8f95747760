"""Identity tokens: short-lived EdDSA (Ed25519) JWTs naming a user and their active account.

Only the account services hold the private key and mint tokens (the portal's
sign-in, the Slack link exchange, the demo `token` command on the services'
host). Every other part - the chat channels, the action server - holds the
public key: it can verify a token but cannot make one. Identity never comes from
anything else.

A token belongs to a session: a sign-in mints it with the sign-in time
(`auth_time`) and a random session id (`sid`); every token minted from it (a
renewal, an account switch) carries both unchanged and never outlives
`auth_time` + the session maximum, and a verifier refuses a session older than
that whatever the token's own expiry says. Claims are checked strictly: an id
is a canonical ASCII number of the right JSON type, never something `int()`
happens to accept.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "premier-services"
ALGORITHM = "EdDSA"
CHANNELS = frozenset({"portal", "slack", "api", "cli", "test"})
# The chat channels a message can come through (bot.chat); the audit log names them.
CHAT_CHANNELS = frozenset({"portal", "widget", "slack", "handoff"})
LANGUAGES = frozenset({"en", "es"})
MAX_ID = 2**31 - 1  # ids are 32-bit in every database we run on
MAX_TIMESTAMP = 2**36  # the year 4147: far enough, and still a valid datetime
DEFAULT_SESSION_MAX = dt.timedelta(hours=12)
REQUIRED_CLAIMS = ["iss", "sub", "chn", "iat", "exp", "auth_time", "sid"]
_USER_ID = re.compile(r"[1-9][0-9]{0,9}")  # [0-9], not \d: no other script's digits
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

PrivateKey = Union[str, bytes, Ed25519PrivateKey]
PublicKey = Union[str, bytes, Ed25519PublicKey]


class TokenError(Exception):
    """Base: the token cannot be used."""


class TokenExpired(TokenError):
    """The token was genuine but its time is up: the person must sign in again."""


class SessionEnded(TokenExpired):
    """Genuine, but its sign-in is older than a session may last: renewal cannot help."""


class TokenInvalid(TokenError):
    """Forged, malformed, signed with another key or for another issuer."""


@dataclass(frozen=True)
class Identity:
    """What a verified token says: who, in which account, through which channel."""

    user_id: int
    account_id: Optional[int]
    channel: str
    expires_at: dt.datetime
    # The session: when the person signed in, and its id; every successor token keeps both.
    session_id: str
    authenticated_at: dt.datetime
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
    auth_time: Optional[dt.datetime] = None,
    session_id: Optional[str] = None,
    max_session: dt.timedelta = DEFAULT_SESSION_MAX,
) -> str:
    """Sign a token for `user_id` acting in `account_id` (None: no account).

    Only the account services call this: it needs the private key.

    Args:
        auth_time: when the person signed in; None: this is the sign-in (at `now`).
        session_id: the session the token continues (with its `auth_time`); None: a new one.
        max_session: the token expires at `auth_time + max_session` at the latest.
    Raises:
        SessionEnded: the session `auth_time` began has already lasted `max_session`.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    if session_id is not None and auth_time is None:
        raise ValueError("a token continuing a session needs the session's auth_time")
    if session_id is not None and not _SESSION_ID.fullmatch(session_id):
        raise ValueError("a session id is 16-64 URL-safe characters")
    issued = now or dt.datetime.now(dt.timezone.utc)
    signed_in = auth_time or issued
    if signed_in > issued:
        raise ValueError("a token cannot be issued before its sign-in")
    expires = min(issued + ttl, signed_in + max_session)
    if expires <= issued:
        raise SessionEnded("the session has ended")
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "acct": account_id,
        "chn": channel,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "auth_time": int(signed_in.timestamp()),
        "sid": session_id or secrets.token_urlsafe(16),
    }
    if language in LANGUAGES:
        claims["lng"] = language
    return jwt.encode(claims, load_private_key(private_key), algorithm=ALGORITHM)


def _timestamp(claims: Dict[str, Any], name: str) -> int:
    value = claims[name]
    # type(), not isinstance: True is an int to Python, and neither it nor 1.5 is a time here.
    if type(value) is not int or not 0 < value < MAX_TIMESTAMP:
        raise TokenInvalid(f"the token's {name} is not a time in whole seconds")
    return value


def verify_token(
    public_key: PublicKey, token: str, *, max_session: dt.timedelta = DEFAULT_SESSION_MAX
) -> Identity:
    """Check signature (EdDSA only: no HMAC, no "none"), issuer, expiry, claims and session age.

    Args:
        max_session: how long a session may last from its sign-in (`auth_time`).
    Raises:
        SessionEnded: genuine, but signed in longer ago than `max_session`.
        TokenExpired: genuine but expired.
        TokenInvalid: anything else is wrong with it (a missing `auth_time` or `sid`, a claim
            of the wrong JSON type or not in its canonical form).
    """
    try:
        claims = jwt.decode(
            token,
            load_public_key(public_key),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalid(f"the token is not valid: {exc}") from exc
    subject, account_id = claims["sub"], claims.get("acct")
    channel, language, session_id = claims["chn"], claims.get("lng"), claims["sid"]
    if not isinstance(subject, str) or not _USER_ID.fullmatch(subject):
        raise TokenInvalid("the token's subject is not a user id")
    if account_id is not None and type(account_id) is not int:  # True is not an account
        raise TokenInvalid("the token's account is not an account id")
    if not isinstance(channel, str) or channel not in CHANNELS:
        raise TokenInvalid("the token names an unknown channel")
    if language is not None and (not isinstance(language, str) or language not in LANGUAGES):
        raise TokenInvalid("the token names an unknown language")
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise TokenInvalid("the token's session id is malformed")
    user_id = int(subject)
    if not 0 < user_id <= MAX_ID or (account_id is not None and not 0 < account_id <= MAX_ID):
        raise TokenInvalid("the token's ids are out of range")
    issued, expires = _timestamp(claims, "iat"), _timestamp(claims, "exp")
    signed_in = _timestamp(claims, "auth_time")
    if signed_in > issued:
        raise TokenInvalid("the token was issued before its sign-in")
    authenticated_at = dt.datetime.fromtimestamp(signed_in, dt.timezone.utc)
    if dt.datetime.now(dt.timezone.utc) >= authenticated_at + max_session:
        raise SessionEnded("the session has ended: sign in again")
    return Identity(
        user_id=user_id,
        account_id=account_id,
        channel=channel,
        expires_at=dt.datetime.fromtimestamp(expires, dt.timezone.utc),
        session_id=session_id,
        authenticated_at=authenticated_at,
        language=language,
    )
