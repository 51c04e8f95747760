"""A message sent again under its id is answered from the conversation, not processed twice.

A client whose answer was lost (the replica died after saving the turn) sends the message
again; the layer finds it in the tracker store and gives back what was answered then.
Rasa's own in-memory tracker store stands in for the SQL one (same interface).
"""

from __future__ import annotations

from typing import List

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot import tokens
from bot.chat.conversations import AnonymousConversations
from bot.chat.identity import Verifier
from bot.chat.layer import MESSAGE_ID, ChatLayer, answered_before
from bot.chat.push import InProcessPushHub

PRIVATE, PUBLIC = tokens.generate_key_pair()


class StoringAgent:
    """Answers like Rasa and stores the turn in the tracker store, as the processor would."""

    def __init__(self, store: InMemoryTrackerStore) -> None:
        self.store = store
        self.processed: List[str] = []

    async def __call__(self, message: UserMessage) -> None:
        self.processed.append(message.text)
        tracker = await self.store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, message_id=message.message_id))
        answer = {
            "text": f"answer to {message.text}",
            "buttons": [{"title": "Yes", "payload": "/affirm"}],
        }
        tracker.update(BotUttered(answer["text"], {"buttons": answer["buttons"]}))
        tracker.update(ActionExecuted("action_listen"))
        await self.store.save(tracker)
        await message.output_channel.send_response(message.sender_id, answer)


async def test_a_message_sent_again_is_answered_once_with_the_same_answer():
    store = InMemoryTrackerStore(Domain.empty())
    agent = StoringAgent(store)
    layer = ChatLayer(
        Verifier(tokens.load_public_key(PUBLIC)),
        AnonymousConversations("s" * 40),
        InProcessPushHub(),
    )
    header = f"Bearer {tokens.mint_token(PRIVATE, user_id=7, account_id=3)}"

    async def send(text: str, message_id: str):  # type: ignore[no-untyped-def]
        return await layer.handle(
            channel="portal",
            text=text,
            on_new_message=agent,
            responses={},
            authorization=header,
            message_id=message_id,
            tracker_store=store,
        )

    first = await send("show my orders", "first-message-0001")
    await send("thanks", "second-message-0002")
    again = await send("show my orders", "first-message-0001")
    assert agent.processed == ["show my orders", "thanks"]  # not processed a second time
    assert [r.as_json() for r in again.replies] == [r.as_json() for r in first.replies]
    assert again.replies[0].buttons == [{"title": "Yes", "payload": "/affirm"}]
    assert await answered_before(store, "portal:7", "never-sent-0003") is None


def test_a_message_id_is_a_short_token():
    assert MESSAGE_ID.match("0123456789abcdef0123456789abcdef")
    for bad in ("short", "x" * 65, "has space 123", "semi;colon12", ""):
        assert not MESSAGE_ID.match(bad)
