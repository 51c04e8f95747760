"""The layer a channel calls: who, which conversation, what metadata, which fixed replies.

Rasa is the boundary here: `on_new_message` stands in for the agent and answers like
one (through the output channel it was handed), so the layer's own work is what is checked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.channels.channel import UserMessage

from bot import tokens
from bot.chat.conversations import AnonymousConversations
from bot.chat.identity import InvalidCredential, Verifier
from bot.chat.layer import ChatLayer, fixed_reply
from bot.chat.metadata import ChatMetadata
from bot.chat.push import InProcessPushHub
from bot.observability import current_request_id
from bot.ratelimit import Budget, CallerLimits, RateLimited, RateLimiter

PRIVATE, PUBLIC = tokens.generate_key_pair()
RESPONSES: Dict[str, Any] = {
    "utter_session_expired": [
        {"condition": [{"type": "slot", "name": "language", "value": "es"}], "text": "Caducó."},
        {"text": "Expired."},
    ]
}


@pytest.fixture
def layer() -> ChatLayer:
    return ChatLayer(
        Verifier(tokens.load_public_key(PUBLIC)),
        AnonymousConversations("s" * 40),
        InProcessPushHub(),
    )


class Agent:
    """Answers every message with a text, a button and data, as Rasa's output would."""

    def __init__(self) -> None:
        self.seen: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        await message.output_channel.send_response(
            message.sender_id,
            {
                "text": "Two invoices:\n\n• INV-1\n• INV-2",
                "buttons": [{"title": "Pay", "payload": "/pay_invoice"}],
                "custom": {"type": "list", "kind": "invoices", "title": "Acme", "items": []},
            },
        )


async def test_a_signed_in_message_gets_the_persons_conversation_and_typed_metadata(layer):
    agent = Agent()
    token = tokens.mint_token(PRIVATE, user_id=7, account_id=3, language="es")
    turn = await layer.handle(
        channel="portal",
        text="pagar con 4111 1111 1111 1111",
        on_new_message=agent,
        responses=RESPONSES,
        authorization=f"Bearer {token}",
    )
    message = agent.seen[0]
    assert turn.conversation == message.sender_id == "portal:7"
    metadata = ChatMetadata.parse_obj(message.metadata)
    assert (metadata.user_id, metadata.account_id, metadata.language) == (7, 3, "es")
    assert metadata.credential == token and metadata.language_hint == "es"
    assert message.text == "pagar con •••• 1111"
    # One reply: the text is not split on blank lines and keeps its buttons and data.
    assert [r.as_json() for r in turn.replies] == [
        {
            "text": "Two invoices:\n\n• INV-1\n• INV-2",
            "buttons": [{"title": "Pay", "payload": "/pay_invoice"}],
            "data": {"type": "list", "kind": "invoices", "title": "Acme", "items": []},
        }
    ]


async def test_an_expired_token_gets_the_domains_sign_in_again_in_the_texts_language(layer):
    agent = Agent()
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    expired = tokens.mint_token(PRIVATE, user_id=7, account_id=3, now=past)
    turn = await layer.handle(
        channel="portal",
        text="muéstrame las facturas",
        on_new_message=agent,
        responses=RESPONSES,
        token=expired,
    )
    assert [r.text for r in turn.replies] == ["Caducó."] and agent.seen == []


@pytest.mark.parametrize("header", ["Basic abc", "Bearer ", "Bearer not.a.token"])
async def test_a_bad_credential_is_refused_without_reaching_the_assistant(layer, header):
    agent = Agent()
    with pytest.raises(InvalidCredential):
        await layer.handle(
            channel="portal",
            text="hi",
            on_new_message=agent,
            responses=RESPONSES,
            authorization=header,
        )
    assert agent.seen == []


async def test_a_forged_token_cannot_name_a_conversation(layer):
    other_private, _ = tokens.generate_key_pair()
    forged = tokens.mint_token(other_private, user_id=7, account_id=3)
    with pytest.raises(InvalidCredential):
        await layer.handle(
            channel="portal", text="hi", on_new_message=Agent(), responses=RESPONSES, token=forged
        )


async def test_an_anonymous_visitor_has_no_identity_in_the_metadata(layer):
    agent = Agent()
    turn = await layer.handle(
        channel="portal",
        text="hello",
        on_new_message=agent,
        responses=RESPONSES,
        anonymous_id="portal:7",  # a signed-in person's id, offered by an anonymous caller
    )
    assert turn.conversation.startswith("anon:")
    metadata = ChatMetadata.parse_obj(agent.seen[0].metadata)
    assert metadata.user_id is None and metadata.credential is None


def test_a_fixed_reply_falls_back_to_english():
    assert fixed_reply(RESPONSES, "utter_session_expired", "fr").text == "Expired."
    with pytest.raises(KeyError):
        fixed_reply(RESPONSES, "utter_missing", "en")


# --- rate limits: what a flood from one sender meets ------------------------------------------


@pytest.fixture
def limited() -> ChatLayer:
    """A layer allowing 2 messages at once per person and 1 per address (refilling slowly)."""
    return ChatLayer(
        Verifier(tokens.load_public_key(PUBLIC)),
        AnonymousConversations("s" * 40),
        InProcessPushHub(),
        CallerLimits(
            RateLimiter(Budget(per_minute=6, burst=2)), RateLimiter(Budget(per_minute=6, burst=1))
        ),
    )


async def test_a_person_flooding_is_refused_before_the_assistant_sees_it(limited):
    agent = Agent()
    ana = tokens.mint_token(PRIVATE, user_id=7, account_id=3)
    ben = tokens.mint_token(PRIVATE, user_id=8, account_id=3)

    async def say(token: str, address: str) -> None:
        await limited.handle(
            channel="portal",
            text="hi",
            on_new_message=agent,
            responses=RESPONSES,
            token=token,
            address=address,
        )

    await say(ana, "10.0.0.1")
    await say(ana, "10.0.0.2")  # a person's budget follows them from address to address
    with pytest.raises(RateLimited) as over:
        await say(ana, "10.0.0.3")
    assert over.value.retry_after == 10
    assert len(agent.seen) == 2
    await say(ben, "10.0.0.1")  # another person at the same address is not held up
    assert len(agent.seen) == 3


async def test_anonymous_visitors_and_bad_tokens_spend_their_addresss_budget(limited):
    agent = Agent()

    async def say(**credential: str) -> None:
        await limited.handle(
            channel="portal",
            text="hi",
            on_new_message=agent,
            responses=RESPONSES,
            address="10.0.0.9",
            **credential,
        )

    with pytest.raises(InvalidCredential):
        await say(token="forged")
    with pytest.raises(RateLimited):
        await say()
    with pytest.raises(RateLimited):  # over the budget, a guess learns nothing but the wait
        await say(token="forged-again")
    assert agent.seen == []


# --- the request id a turn runs under ---------------------------------------------------------


class SeesRequestId(Agent):
    """Remembers the request id current while Rasa handles the message (its log lines')."""

    def __init__(self) -> None:
        super().__init__()
        self.current: List[Optional[str]] = []

    async def __call__(self, message: UserMessage) -> None:
        self.current.append(current_request_id())
        await super().__call__(message)


async def test_the_turn_runs_under_the_callers_request_id_and_the_metadata_carries_it(layer):
    agent = SeesRequestId()
    await layer.handle(
        channel="portal",
        text="hello",
        on_new_message=agent,
        responses=RESPONSES,
        request_id="0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5",
    )
    metadata = ChatMetadata.parse_obj(agent.seen[0].metadata)
    assert metadata.request_id == agent.current[0] == "0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"
    assert current_request_id() is None  # the id ends with the turn


@pytest.mark.parametrize("offered", [None, "bad id; drop table", "x" * 200])
async def test_a_turn_without_a_well_formed_request_id_gets_a_new_one(layer, offered):
    agent = SeesRequestId()
    for _ in range(2):
        await layer.handle(
            channel="widget",
            text="hello",
            on_new_message=agent,
            responses=RESPONSES,
            request_id=offered,
        )
    ids = [ChatMetadata.parse_obj(message.metadata).request_id for message in agent.seen]
    assert ids == agent.current
    assert all(i and len(i) == 32 and i != offered for i in ids)
    assert ids[0] != ids[1]  # one per message


# --- replies said outside a turn, and one layer per process ------------------------------------


def test_a_fixed_reply_fills_its_values_and_buttons_in_the_persons_language():
    responses = {
        "utter_place": [
            {
                "condition": [{"type": "slot", "name": "language", "value": "es"}],
                "text": "Eres el número {position}.",
                "buttons": [{"title": "Volver", "payload": "/back"}],
            },
            {
                "text": "You're number {position}.",
                "buttons": [{"title": "Back", "payload": "/back"}],
            },
        ]
    }
    reply = fixed_reply(responses, "utter_place", "es", position=3)
    assert reply.text == "Eres el número 3."
    assert reply.buttons == [{"title": "Volver", "payload": "/back"}]
    assert fixed_reply(responses, "utter_place", "en", position=1).text == "You're number 1."


async def test_every_channel_of_a_process_shares_one_layer_and_its_push():
    from tests.conftest import settings_for_tests

    settings = settings_for_tests()
    first, second = ChatLayer.shared(settings), ChatLayer.shared(settings)
    assert first is second and first.desk is not None
    await first.start()
    await second.start()  # a second channel starting it changes nothing
    async with first.push.subscribe("conversation-1") as messages:
        await second.push.publish("conversation-1", {"text": "from the desk"})
        assert (await messages.__anext__()).reply["text"] == "from the desk"
    await first.close()
    assert first.push.subscription_count() == 0
    await second.close()  # the last channel to stop closes it
    assert ChatLayer.shared(settings) is not first
    await ChatLayer.shared(settings).start()
    await ChatLayer.shared(settings).close()
