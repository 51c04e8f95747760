"""Which conversation a message belongs to: one written rule, decided here only.

The rule:
- a signed-in person has one conversation per channel: ``portal:<user id>``;
  every tab and device of that person on that channel is the same conversation;
- a Slack thread is a conversation of its own: ``slack:<user id>:<thread>``
  (the person is still part of the id, so two people in one thread never share one);
- an anonymous visitor gets a conversation id issued by the server
  (``anon:<random>.<signature>``); a client can only continue an id the server
  gave it, never choose one, and an anonymous id never reaches a signed-in
  person's conversation.

The id is derived from the verified identity, never from anything the client
sends: nobody can enter another person's conversation through any channel.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Optional

from bot.chat.identity import ChatIdentity

ANONYMOUS_PREFIX = "anon:"
_THREAD = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def conversation_id(identity: ChatIdentity, thread: Optional[str] = None) -> str:
    """The conversation of a signed-in person on their channel (and thread, in Slack)."""
    base = f"{identity.channel}:{identity.user_id}"
    if thread is None:
        return base
    if not _THREAD.match(thread):
        raise ValueError("a thread id is 1-64 letters, digits, '.', '_' or '-'")
    return f"{base}:{thread}"


def is_anonymous(conversation: str) -> bool:
    return conversation.startswith(ANONYMOUS_PREFIX)


class AnonymousConversations:
    """Server-issued ids for visitors who are not signed in (HMAC-signed, unguessable)."""

    def __init__(self, secret: str):
        if not secret:
            raise ValueError("anonymous conversations need CHAT_SECRET")
        self._key = secret.encode("utf-8")

    def _signature(self, nonce: str) -> str:
        digest = hmac.new(self._key, nonce.encode("ascii"), hashlib.sha256).hexdigest()
        return digest[:32]

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        return f"{ANONYMOUS_PREFIX}{nonce}.{self._signature(nonce)}"

    def continue_or_issue(self, offered: Optional[str]) -> str:
        """The offered id when the server issued it; otherwise a fresh one."""
        if offered and offered.startswith(ANONYMOUS_PREFIX):
            nonce, _, signature = offered[len(ANONYMOUS_PREFIX) :].partition(".")
            if (
                len(nonce) == 32
                and all(c in "0123456789abcdef" for c in nonce)
                and hmac.compare_digest(signature, self._signature(nonce))
            ):
                return offered
        return self.issue()
