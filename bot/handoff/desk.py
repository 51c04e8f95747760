"""The customer's side of a handoff, in the process that carries their conversation.

The conversation layer calls `relay_customer` before the assistant with every signed-in
message, and `observe` after it with the turn's replies:

- `observe` sees the assistant open a handoff (`action_handoff` replies with data of type
  `handoff`): the conversation is marked held, the desk is told (push topic `desk`), and a
  watch starts;
- `relay_customer`: while the conversation is held, the message goes to the transcript at
  the account services and live to the agent side (push topic `desk:<id>`); the assistant
  does not see it. The buttons the desk's notices carry (back to the assistant, open a
  service request, keep waiting) are handled here too.
- a watch follows one handoff: it asks the services for its state when something happens on
  `desk:<id>` (a claim, a release, a close) and every `HANDOFF_POLL_MS` otherwise, and tells
  the customer what changed, in the handoff's language: an agent joined, left, closed (the
  assistant is back), their place in the queue, and — once it has waited
  `HANDOFF_UNCLAIMED_SECONDS` — the offer of a service request instead.

A watch asks as the customer, with the token their channel last presented (kept in memory
only, like a widget socket keeps it). When that token has expired the watch waits for the
customer's next message or the page's renewed token (`refresh`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from bot.chat.identity import ChatIdentity
from bot.chat.push import PushHub, PushUnavailable
from bot.chat.replies import Reply
from bot.client import AccountServices, errors
from bot.handoff.held import HeldConversations, held_from_url
from bot.observability import new_request_id, request_scope
from bot.settings import Settings

log = logging.getLogger(__name__)

# Payloads of the buttons the desk's notices carry (handled here, never by the assistant).
CANCEL = "/handoff_cancel"
OPEN_REQUEST = "/handoff_service_request"
KEEP_WAITING = "/handoff_keep_waiting"
# Typed instead of the button while waiting (once an agent has joined, they are for the agent).
CANCEL_WORDS = frozenset({"cancel", "cancelar", "/cancel"})
QUEUE_TOPIC = "desk"
OPEN_STATES = frozenset({"waiting", "claimed"})


def desk_topic(handoff_id: int) -> str:
    """The push topic of everything the agent side of one handoff sees."""
    return f"desk:{handoff_id}"


def minutes(seconds: Optional[float]) -> int:
    """An expected wait as a person reads it: whole minutes, at least one."""
    return max(1, math.ceil((seconds or 0) / 60))


@dataclass
class Watch:
    """One open handoff this process follows for its customer."""

    handoff_id: int
    conversation: str
    language: str
    credential: str
    expires_at: dt.datetime
    state: str = "waiting"
    version: int = -1
    position: Optional[int] = None
    agent_name: Optional[str] = None
    # When the handoff was opened: with its id, names it uniquely in a shared Redis.
    opened: str = ""
    offered: bool = False
    task: Optional[asyncio.Task] = None

    @property
    def expired(self) -> bool:
        return self.expires_at <= dt.datetime.now(dt.timezone.utc)


class HandoffDesk:
    """One per Rasa process, held by the conversation layer."""

    def __init__(
        self,
        services: AccountServices,
        push: PushHub,
        held: HeldConversations,
        *,
        unclaimed_seconds: float,
        poll_seconds: float,
    ):
        self.services = services
        self.push = push
        self.held = held
        self.unclaimed_seconds = unclaimed_seconds
        self.poll_seconds = poll_seconds
        self.responses: Mapping[str, Any] = {}
        self.watches: Dict[str, Watch] = {}

    @classmethod
    def from_settings(cls, settings: Settings, push: PushHub) -> HandoffDesk:
        return cls(
            AccountServices(settings.services_url, timeout=settings.services_timeout_ms / 1000),
            push,
            held_from_url(settings.redis_url),
            unclaimed_seconds=settings.handoff_unclaimed_seconds,
            poll_seconds=settings.handoff_poll_seconds,
        )

    async def start(self) -> None:
        await self.held.start()

    async def close(self) -> None:
        for watch in list(self.watches.values()):
            if watch.task is not None:
                watch.task.cancel()
        self.watches.clear()
        await self.held.close()
        await self.services.aclose()

    # --- the layer's two hooks ------------------------------------------------------------

    async def relay_customer(
        self, identity: ChatIdentity, conversation: str, text: str, responses: Mapping[str, Any]
    ) -> Optional[List[Reply]]:
        """The replies to a message of a held conversation; None: not held, the assistant answers.

        Raises nothing: a desk the services cannot reach is said to the customer.
        """
        self._remember(responses)
        try:
            handoff_id = await self.held.get(conversation)
        except Exception:
            log.exception("handoff: could not read which conversations are held")
            return None
        if handoff_id is None:
            return None
        watch = self._follow(handoff_id, conversation, identity, identity.language or "en")
        session = self.services.as_user(identity.credential)
        command = text.strip()
        try:
            if command == CANCEL or (watch.state == "waiting" and command.lower() in CANCEL_WORDS):
                await session.cancel_handoff(handoff_id)
                await self._end(watch, "cancelled")
                return [self.say("utter_handoff_cancelled", watch.language)]
            if command == OPEN_REQUEST:
                created = await session.handoff_service_request(handoff_id)
                await self._end(watch, "converted")
                return [
                    self.say("utter_handoff_request_opened", watch.language, number=created.number)
                ]
            if command == KEEP_WAITING:
                status = await session.handoff(handoff_id)
                return [self._place(watch.language, status.position, status.expected_wait_seconds)]
            message = await session.handoff_message(handoff_id, text)
        except (errors.Conflict, errors.NotFound):
            # The handoff ended meanwhile (closed on another replica, say): the assistant is back.
            await self._end(watch, None)
            return None
        except errors.Unauthorized:
            return None  # the layer has verified the token; the services disagree: let it answer
        except errors.AccountServicesError:
            log.warning("handoff %s: a customer message could not be relayed", handoff_id)
            return [self.say("utter_handoff_not_delivered", watch.language)]
        await self._publish(
            desk_topic(handoff_id),
            {
                "text": text,
                "data": {"type": "customer_message", "id": message.id, "at": _iso(message.at)},
            },
            kind="customer",
        )
        return []

    async def observe(
        self, identity: ChatIdentity, conversation: str, channel: str, replies: List[Reply]
    ) -> None:
        """After a turn: did the assistant open a handoff? Then hold, tell the desk, watch."""
        for reply in replies:
            data = reply.data or {}
            if data.get("type") != "handoff" or not isinstance(data.get("handoff"), Mapping):
                continue
            status = data["handoff"]
            handoff_id = int(status["id"])
            try:
                await self.held.put(conversation, handoff_id)
            except Exception:
                log.exception("handoff %s: could not mark the conversation held", handoff_id)
            watch = self._follow(
                handoff_id, conversation, identity, str(status.get("language") or "en")
            )
            watch.version = int(status.get("version") or 0)
            watch.position = status.get("position")
            await self._publish(
                QUEUE_TOPIC,
                {
                    "text": "",
                    "data": {
                        "type": "queue_changed",
                        "event": "created",
                        "handoff": {**(data.get("summary") or {}), "id": handoff_id},
                    },
                },
                kind="system",
            )

    def refresh(self, conversation: str, identity: ChatIdentity) -> None:
        """The customer's page renewed its token: the watch asks with the new one."""
        watch = self.watches.get(conversation)
        if watch is not None:
            watch.credential, watch.expires_at = identity.credential, identity.expires_at

    def typing(self, conversation: str) -> Optional[int]:
        """The handoff a customer typing in `conversation` should be shown to, if held here."""
        watch = self.watches.get(conversation)
        return watch.handoff_id if watch is not None and watch.state == "claimed" else None

    async def customer_typing(self, handoff_id: int) -> None:
        await self._publish(
            desk_topic(handoff_id), {"text": "", "data": {"type": "typing"}}, kind="typing"
        )

    # --- watching ---------------------------------------------------------------------------

    def _follow(
        self, handoff_id: int, conversation: str, identity: ChatIdentity, language: str
    ) -> Watch:
        watch = self.watches.get(conversation)
        if watch is not None and watch.handoff_id == handoff_id:
            watch.credential, watch.expires_at = identity.credential, identity.expires_at
            return watch
        if watch is not None and watch.task is not None:
            watch.task.cancel()
        watch = Watch(handoff_id, conversation, language, identity.credential, identity.expires_at)
        self.watches[conversation] = watch
        watch.task = asyncio.create_task(self._watch(watch))
        return watch

    async def _watch(self, watch: Watch) -> None:
        topic = desk_topic(watch.handoff_id)
        try:
            async with self.push.subscribe(topic) as news:
                while self.watches.get(watch.conversation) is watch:
                    if not watch.expired:
                        with request_scope(new_request_id()):  # each check its own request
                            await self._check(watch)
                    if self.watches.get(watch.conversation) is not watch:
                        return
                    await _next_change(news, self.poll_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handoff %s: the watch stopped", watch.handoff_id)

    async def _check(self, watch: Watch) -> None:
        """Ask the services for the handoff's state; tell the customer what changed."""
        try:
            status = await self.services.as_user(watch.credential).handoff(watch.handoff_id)
        except errors.Unauthorized:
            watch.expires_at = dt.datetime.now(dt.timezone.utc)  # wait for a fresh token
            return
        except errors.NotFound:
            await self._end(watch, None)
            return
        except errors.AccountServicesError:
            return  # unreachable for now: the next check tries again
        watch.language = status.language or watch.language
        watch.opened = status.created_at.isoformat()
        before = watch.state
        changed = status.version != watch.version
        watch.version = status.version
        if status.state == "claimed":
            if before != "claimed" or status.agent_name != watch.agent_name:
                await self._announce(
                    watch, "joined", "utter_handoff_joined", agent=status.agent_name or ""
                )
        elif status.state == "waiting":
            if before == "claimed":
                await self._announce(
                    watch,
                    "requeued",
                    "utter_handoff_requeued",
                    agent=watch.agent_name or "",
                    position=status.position or 1,
                    minutes=minutes(status.expected_wait_seconds),
                )
            elif changed and status.position is not None and status.position != watch.position:
                await self._announce_reply(
                    watch,
                    "position",
                    self._place(watch.language, status.position, status.expected_wait_seconds),
                )
            if not watch.offered and status.waited_seconds >= self.unclaimed_seconds:
                watch.offered = True
                await self._announce(watch, "unclaimed", "utter_handoff_unclaimed")
        elif status.state == "closed":
            agent = status.agent_name or watch.agent_name or ""
            await self._announce(watch, "closed", "utter_handoff_resumed", agent=agent)
            await self._end(watch, None)
            return
        elif status.state not in OPEN_STATES:
            await self._end(watch, None)
            return
        watch.state = status.state
        watch.position = status.position
        watch.agent_name = status.agent_name if status.state == "claimed" else watch.agent_name

    async def _announce(self, watch: Watch, what: str, response: str, **values: Any) -> None:
        await self._announce_reply(watch, what, self.say(response, watch.language, **values))

    async def _announce_reply(self, watch: Watch, what: str, reply: Reply) -> None:
        """Tell the customer once, whichever replica sees the change first."""
        key = f"{watch.handoff_id}:{watch.opened}:{watch.version}:{what}"
        try:
            if not await self.held.first_time(key):
                return
        except Exception:
            log.exception("handoff %s: could not check an announcement", watch.handoff_id)
        await self._publish(
            watch.conversation,
            {**reply.as_json(), "data": {"type": "handoff_notice", "event": what}},
            kind="system",
        )

    async def _end(self, watch: Watch, event: Optional[str]) -> None:
        """The conversation is the assistant's again."""
        with contextlib.suppress(Exception):
            await self.held.drop(watch.conversation, watch.handoff_id)
        if self.watches.get(watch.conversation) is watch:
            del self.watches[watch.conversation]
        if event is not None:  # the customer ended it here: the desk learns at once
            await self._publish(
                desk_topic(watch.handoff_id),
                {"text": "", "data": {"type": "handoff_state", "state": event}},
                kind="system",
            )
            await self._publish(
                QUEUE_TOPIC,
                {
                    "text": "",
                    "data": {
                        "type": "queue_changed",
                        "event": event,
                        "handoff": {"id": watch.handoff_id},
                    },
                },
                kind="system",
            )
        current = asyncio.current_task()
        if watch.task is not None and watch.task is not current:
            watch.task.cancel()

    # --- what the customer reads ------------------------------------------------------------

    def say(self, response: str, language: str, **values: Any) -> Reply:
        from bot.chat.layer import fixed_reply

        return fixed_reply(self.responses, response, language, **values)

    def _place(self, language: str, position: Optional[int], wait: Optional[float]) -> Reply:
        return self.say(
            "utter_handoff_position", language, position=position or 1, minutes=minutes(wait)
        )

    def _remember(self, responses: Mapping[str, Any]) -> None:
        if responses:
            self.responses = responses

    async def _publish(self, topic: str, reply: Dict[str, Any], *, kind: str) -> None:
        try:
            await self.push.publish(topic, reply, kind=kind)
        except (PushUnavailable, RuntimeError):
            log.warning("handoff: a %s message could not be pushed to %s", kind, topic)


async def _next_change(news: Any, timeout: float) -> None:
    """Wait for a state change on the handoff's topic, or `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        try:
            message = await asyncio.wait_for(news.__anext__(), timeout=left)
        except asyncio.TimeoutError:
            return
        except StopAsyncIteration:
            await asyncio.sleep(left)
            return
        if message.kind == "system":
            return


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)
