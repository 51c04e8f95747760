"""The conversation layer: what every channel calls, so that a channel is only a transport.

A message passes through it like this:

    channel (portal endpoint, widget socket, Slack app, handoff desk)
      -> Verifier: token -> ChatIdentity          (public key only; expired -> "sign in again")
      -> conversation rule: identity -> conversation id  (bot.chat.conversations)
      -> redact: card numbers / tokens typed into the chat are masked
      -> ChatMetadata: typed, the token only as a transient field
      -> Rasa (NLU, rules, forms) -> action server -> account services, as the person
      <- ReplyCollector: each bot message as one Reply (text, buttons, data)
    and later, outside a turn:
      PushHub.publish(conversation, reply) -> every open connection of that conversation

While a person at the handoff desk holds a conversation (`bot.handoff`), the layer hands
the customer's messages to the desk instead of to Rasa: the assistant stays silent until the
agent closes the handoff.

One layer per process (`ChatLayer.shared`): every channel of the Rasa server uses the same
push hub, so a message pushed by one (the agent console) reaches connections held by another
(the widget) even without Redis.
"""

from __future__ import annotations

import logging
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterator, List, Mapping, Optional

from rasa.core.channels.channel import UserMessage

from bot.chat.conversations import AnonymousConversations, conversation_id
from bot.chat.identity import ChatIdentity, InvalidCredential, SessionExpired, Verifier
from bot.chat.metadata import ChatMetadata
from bot.chat.output import Forward, ReplyCollector
from bot.chat.push import PushHub, push_hub_from_url
from bot.chat.redact import redact
from bot.chat.replies import Reply
from bot.language import detect_language
from bot.observability import accept_request_id, request_scope
from bot.ratelimit import CallerLimits, RateLimited
from bot.settings import Settings

if TYPE_CHECKING:  # the desk imports the layer's types; the layer only holds one
    from bot.handoff.desk import HandoffDesk

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000
# A client's id for one message, so that sending it again (after a lost answer) is safe.
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


@dataclass
class ChatTurn:
    """What one message produced: the conversation it went to and the replies, in order."""

    conversation: str
    replies: List[Reply] = field(default_factory=list)
    identity: Optional[ChatIdentity] = None


def fixed_reply(responses: Mapping[str, Any], name: str, language: str, **values: Any) -> Reply:
    """A domain response chosen without running the assistant (e.g. "please sign in again").

    The text still comes from the domain: the variation whose `language` slot
    condition matches, else the one without a condition. `values` fill its
    `{placeholders}` (and those of its buttons), as Rasa fills them from slots.
    """
    variations = responses.get(name) or []
    chosen = fallback = None
    for variation in variations:
        conditions = variation.get("condition") or []
        if not conditions:
            fallback = fallback or variation
        elif any(c.get("name") == "language" and c.get("value") == language for c in conditions):
            chosen = variation
            break
    chosen = chosen or fallback
    if chosen is None:
        raise KeyError(f"the domain has no response {name}")
    buttons = [
        {"title": _fill(b.get("title", ""), values), "payload": _fill(b.get("payload", ""), values)}
        for b in chosen.get("buttons") or []
    ]
    return Reply(text=_fill(chosen.get("text", ""), values), buttons=buttons)


def _fill(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` replaced by its value; unknown names are left as they are (like Rasa)."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


@contextmanager
def _logged_turn(channel: str, offered_id: Optional[str]) -> Iterator[str]:
    """Run a turn under its request id and log one line for it (whatever its outcome)."""
    with request_scope(accept_request_id(offered_id)) as request_id:
        started = time.perf_counter()
        outcome = "failed"
        try:
            yield request_id
            outcome = "answered"
        except (InvalidCredential, RateLimited):
            outcome = "refused"
            raise
        finally:
            took = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "%s message %s in %.0f ms",
                channel,
                outcome,
                took,
                extra={"data": {"channel": channel, "outcome": outcome, "duration_ms": took}},
            )


_SHARED: Dict[str, ChatLayer] = {}


class ChatLayer:
    """One per server process: the verifier, the conversation rule, the push hub, the desk."""

    def __init__(
        self,
        verifier: Verifier,
        anonymous: AnonymousConversations,
        push: PushHub,
        limits: Optional[CallerLimits] = None,
        desk: Optional[HandoffDesk] = None,
    ):
        """`limits`: messages a minute per person and per address (None: unlimited).
        `desk`: the handoff desk's side in this process (None: no handoffs)."""
        self.verifier = verifier
        self.anonymous = anonymous
        self.push = push
        self.limits = limits
        self.desk = desk
        self._users = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatLayer:
        from bot.handoff.desk import HandoffDesk

        push = push_hub_from_url(settings.redis_url)
        return cls(
            Verifier(settings.token_verification_key(), max_session=settings.session_max),
            AnonymousConversations(settings.chat_secret),
            push,
            CallerLimits.per_minute(settings.chat_rate_person, settings.chat_rate_address),
            HandoffDesk.from_settings(settings, push),
        )

    @classmethod
    def shared(cls, settings: Settings) -> ChatLayer:
        """The process's layer: built by the first channel that asks, shared by the others."""
        if "process" not in _SHARED:
            _SHARED["process"] = cls.from_settings(settings)
        return _SHARED["process"]

    def admit(self, identity: Optional[ChatIdentity], address: Optional[str]) -> None:
        """Spend one message of the sender's budget: the person's, or the address's if anonymous.

        Raises:
            RateLimited: over the budget (the channel says when to try again).
        """
        if self.limits is None:
            return
        if identity is None:
            self.limits.check_address(address)
        else:
            self.limits.check_person(identity.user_id)

    async def start(self) -> None:
        """Start the push hub (and the desk) once, however many channels share the layer."""
        self._users += 1
        if self._users == 1:
            await self.push.start()
            if self.desk is not None:
                await self.desk.start()

    async def close(self) -> None:
        """Close when the last channel that started the layer stops."""
        self._users -= 1
        if self._users > 0:
            return
        if self.desk is not None:
            await self.desk.close()
        await self.push.close()
        if _SHARED.get("process") is self:
            del _SHARED["process"]

    def conversation_of(
        self,
        identity: Optional[ChatIdentity],
        *,
        thread: Optional[str] = None,
        anonymous_id: Optional[str] = None,
    ) -> str:
        if identity is None:
            return self.anonymous.continue_or_issue(anonymous_id)
        return conversation_id(identity, thread)

    async def handle(
        self,
        *,
        channel: str,
        text: str,
        on_new_message: OnNewMessage,
        responses: Mapping[str, Any],
        authorization: Optional[str] = None,
        token: Optional[str] = None,
        thread: Optional[str] = None,
        anonymous_id: Optional[str] = None,
        forward: Optional[Forward] = None,
        address: Optional[str] = None,
        message_id: Optional[str] = None,
        tracker_store: Any = None,
        request_id: Optional[str] = None,
    ) -> ChatTurn:
        """Take one message from a channel through the assistant.

        Exactly one of `authorization` (a header value) or `token` may be given;
        neither means an anonymous visitor. `address` is the sender's network
        address: anonymous visitors and refused credentials are rate-limited by it.
        `request_id` is the id to run the turn under (`accept_request_id` of the caller's
        `X-Request-ID`); None or a malformed one: a new id. Every log line of the turn, in
        every part, carries it (`bot.observability`): the metadata takes it to the actions.

        Raises:
            InvalidCredential: the channel answers 401 (without the reason).
            RateLimited: the sender is over their budget; nothing reached the assistant.
        """
        with _logged_turn(channel, request_id) as request_id:
            text = redact(text)[:MAX_MESSAGE_CHARS]
            hint = detect_language(text)
            try:
                identity = (
                    self.verifier.from_token(token, channel)
                    if token
                    else self.verifier.from_authorization(authorization, channel)
                )
            except InvalidCredential:
                self.admit(None, address)  # guessing tokens costs the address's budget
                raise
            except SessionExpired:
                self.admit(None, address)
                reply = fixed_reply(responses, "utter_session_expired", hint or "en")
                if forward is not None:
                    await forward(reply)
                return ChatTurn(conversation="", replies=[reply])
            self.admit(identity, address)
            conversation = self.conversation_of(identity, thread=thread, anonymous_id=anonymous_id)
            if identity is not None and self.desk is not None:
                held = await self.desk.relay_customer(identity, conversation, text, responses)
                if held is not None:  # a person holds the conversation: the assistant is silent
                    for reply in held:
                        if forward is not None:
                            await forward(reply)
                    return ChatTurn(conversation, held, identity)
            if message_id is not None and tracker_store is not None:
                replayed = await answered_before(tracker_store, conversation, message_id)
                if replayed is not None:
                    for reply in replayed:
                        if forward is not None:
                            await forward(reply)
                    return ChatTurn(conversation, replayed, identity)
            metadata = ChatMetadata(
                channel=channel,
                conversation=conversation,
                user_id=identity.user_id if identity else None,
                account_id=identity.account_id if identity else None,
                language=identity.language if identity else None,
                language_hint=hint,
                thread=thread,
                request_id=request_id,
                credential=identity.credential if identity else None,
            )
            collector = ReplyCollector(channel, forward)
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    conversation,
                    input_channel=channel,
                    metadata=metadata.to_message(),
                    message_id=message_id,
                )
            )
            if identity is not None and self.desk is not None:
                await self.desk.observe(identity, conversation, channel, collector.replies)
            return ChatTurn(conversation, collector.replies, identity)

    def push_payload(self, conversation: str, replies: List[Reply]) -> List[Dict[str, Any]]:
        """Replies in the REST shape: Rasa's `recipient_id` plus our text/buttons/data."""
        return [{"recipient_id": conversation, **reply.as_json()} for reply in replies]


async def answered_before(
    tracker_store: Any, conversation: str, message_id: str
) -> Optional[List[Reply]]:
    """The replies to the message `message_id` if the conversation holds it, else None."""
    from rasa.shared.core.events import BotUttered, UserUttered

    tracker = await tracker_store.retrieve(conversation)
    if tracker is None:
        return None
    replies: Optional[List[Reply]] = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break  # the next message: its turn is over
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            replies.append(Reply.from_bot_message({**(event.data or {}), "text": event.text}))
    return replies
