"""An ended session is treated like an expired token: "please sign in again"."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import UserMessage

from bot import tokens
from bot.chat.conversations import AnonymousConversations
from bot.chat.identity import SessionExpired, Verifier
from bot.chat.layer import ChatLayer
from bot.chat.push import InProcessPushHub

PRIVATE, PUBLIC = tokens.generate_key_pair()
RESPONSES: Dict[str, Any] = {
    "utter_session_expired": [
        {"condition": [{"type": "slot", "name": "language", "value": "es"}], "text": "Caducó."},
        {"text": "Expired."},
    ]
}


def _signed_in(hours_ago: float) -> str:
    """A token that has not expired, of a session that began `hours_ago`."""
    return tokens.mint_token(
        PRIVATE,
        user_id=7,
        account_id=3,
        language="es",
        auth_time=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours_ago),
        max_session=dt.timedelta(days=2),  # as a services with a longer maximum would sign
    )


async def test_an_ended_session_gets_sign_in_again_and_never_reaches_the_assistant():
    layer = ChatLayer(
        Verifier(tokens.load_public_key(PUBLIC)),
        AnonymousConversations("s" * 40),
        InProcessPushHub(),
    )
    seen: List[UserMessage] = []

    async def agent(message: UserMessage) -> None:
        seen.append(message)

    turn = await layer.handle(
        channel="portal",
        text="muéstrame las facturas",
        on_new_message=agent,
        responses=RESPONSES,
        authorization=f"Bearer {_signed_in(hours_ago=13)}",
    )
    assert [r.text for r in turn.replies] == ["Caducó."] and seen == []


def test_the_verifier_ends_a_session_at_the_configured_maximum():
    token = _signed_in(hours_ago=2)
    public = tokens.load_public_key(PUBLIC)
    assert Verifier(public).from_token(token, "portal").user_id == 7
    with pytest.raises(SessionExpired):
        Verifier(public, max_session=dt.timedelta(hours=1)).from_token(token, "portal")
