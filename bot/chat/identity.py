"""Who is writing: a verified token becomes one typed chat identity.

Channels never parse an Authorization header or a token themselves: they hand
what they received to `Verifier`, which knows only the services' public key (it
can check a token, never make one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot import tokens

CHANNELS = tokens.CHAT_CHANNELS


class SignInProblem(Exception):
    """The message cannot be taken as anybody's: the caller must (re)authenticate."""


class SessionExpired(SignInProblem):
    """A genuine token whose time is up, or whose session has ended: "please sign in again"."""


class InvalidCredential(SignInProblem):
    """Forged, malformed or for another issuer; the channel answers 401 without details."""


@dataclass(frozen=True)
class ChatIdentity:
    """A signed-in person as the conversation layer knows them.

    `account_id` is the account the page (the token) is in; a switch made in
    the chat is conversation state, kept by the actions, not here.
    `credential` is the token itself: it travels to the actions for this one
    turn and is never persisted (see `bot.chat.tracker_store`).
    """

    user_id: int
    account_id: Optional[int]
    channel: str
    language: Optional[str]
    expires_at: dt.datetime
    credential: str


class Verifier:
    """Turns what a channel received into a `ChatIdentity`, or None for an anonymous caller."""

    def __init__(
        self,
        public_key: Ed25519PublicKey,
        *,
        max_session: dt.timedelta = tokens.DEFAULT_SESSION_MAX,
    ):
        """`max_session`: the settings' `session_max` (how long a sign-in lasts)."""
        self._public_key = public_key
        self._max_session = max_session

    def from_token(self, token: str, channel: str) -> ChatIdentity:
        """Verify a bare token.

        Raises:
            SessionExpired: genuine but expired, or its session has ended.
            InvalidCredential: anything else is wrong with it.
        """
        if channel not in CHANNELS:
            raise ValueError(f"unknown chat channel {channel!r}")
        try:
            claims = tokens.verify_token(self._public_key, token, max_session=self._max_session)
        except tokens.SessionEnded:
            raise SessionExpired("the session has ended") from None
        except tokens.TokenExpired:
            raise SessionExpired("the token has expired") from None
        except tokens.TokenInvalid:
            raise InvalidCredential("not signed in or the token is not valid") from None
        return ChatIdentity(
            user_id=claims.user_id,
            account_id=claims.account_id,
            channel=channel,
            language=claims.language,
            expires_at=claims.expires_at,
            credential=token,
        )

    def from_authorization(self, header: Optional[str], channel: str) -> Optional[ChatIdentity]:
        """Verify an `Authorization: Bearer <token>` header; no header is an anonymous caller.

        Raises:
            SessionExpired: genuine but expired, or its session has ended.
            InvalidCredential: not a bearer token, or a token that is not valid.
        """
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidCredential("the Authorization header must be 'Bearer <token>'")
        return self.from_token(token.strip(), channel)
