"""The handoff desk in Slack: new handoffs in the support channel, claimed into a thread.

docs/handoff.md is the contract. The account services decide everything (who may claim,
which claim wins, who holds a handoff); this module only carries it to and from Slack:

- the push topic `desk` (queue changes): a `created` handoff is posted to
  `SLACK_SUPPORT_CHANNEL` with a Claim button; every later change (claimed, requeued,
  cancelled, converted, closed) updates that message (`chat.update`): the button goes, or
  comes back when the handoff is waiting again;
- a click on Claim: the clicker is found through the Slack link (their own token) and claims
  at the services. The winner gets a thread under the support message with the context, the
  transcript so far, Close (one button per outcome) and Release; anyone else is told, to them
  alone, who has it (or that only support agents can claim, or how to get linked);
- the thread relays both ways: the customer's messages (push topic `desk:<id>`, kind
  `customer`) are posted in it; what the holder writes there goes to the services
  (`desk_say`) and is pushed to the customer's conversation and to `desk:<id>`. While the
  thread is open the app reads the handoff every third of `HANDOFF_AGENT_GRACE_SECONDS`
  as the holder (the heartbeat a console page sends), and notices when it was taken away;
- `/premier close [resolved|unresolved|request] [note]` does what the Close buttons do.

Which Slack message and thread belong to which handoff is kept in the app's memory
(`bot.slack.memory`, Redis when `REDIS_URL` is set). Several Slack app processes receive
every push message; each acts on one message once (its push id is remembered). The desk
needs the push hub across processes, so it is off without `REDIS_URL`, and without a
support channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from actions import i18n
from bot.chat.push import PushHub, PushMessage, PushUnavailable
from bot.client import AccountServices, AccountSession
from bot.client.errors import (
    AccountServicesError,
    AlreadyClaimed,
    Conflict,
    Forbidden,
    NotFound,
)
from bot.handoff.desk import QUEUE_TOPIC, desk_topic
from bot.slack.blocks import (
    DESK_CLAIM_ACTION,
    DESK_CLOSE_ACTION_PREFIX,
    DESK_RELEASE_ACTION,
    DeskButton,
    desk_card,
    escape,
)
from bot.slack.memory import Memory
from bot.slack.people import NotLinked, People, Person
from bot.slack.texts import Texts

log = logging.getLogger(__name__)

OUTCOMES = ("resolved", "unresolved", "service_request_opened")
# What `/premier close` understands as an outcome.
OUTCOME_WORDS = {
    "resolved": "resolved",
    "unresolved": "unresolved",
    "request": "service_request_opened",
    "service_request": "service_request_opened",
    "service_request_opened": "service_request_opened",
}
# A HandoffSummary's fields (docs/handoff.md): what the `desk` topic carries of a handoff.
SUMMARY_FIELDS = (
    "id",
    "state",
    "account_name",
    "person_name",
    "role",
    "language",
    "channel",
    "reason",
    "topic",
    "created_at",
    "waited_seconds",
    "position",
    "agent_name",
)
ENDED = frozenset({"cancelled", "converted", "closed"})
# A handoff's Slack records outlive any handoff (they are read while it is open).
RECORD_TTL = 7 * 24 * 3600
MAX_TRANSCRIPT = 60
# The support channel is shared: its posts are in one language.
CHANNEL_LANGUAGE = "en"


def _post_key(handoff_id: int) -> str:
    return f"desk:post:{handoff_id}"


def _thread_key(handoff_id: int) -> str:
    return f"desk:thread:{handoff_id}"


def _thread_at_key(channel: str, thread_ts: str) -> str:
    return f"desk:thread-at:{channel}:{thread_ts}"


def _held_key(team: str, user: str, channel: str) -> str:
    return f"desk:held:{team}:{user}:{channel}"


@dataclass
class Post:
    """The support channel's message about one handoff, and what it last said."""

    handoff_id: int
    channel: str
    ts: str
    summary: Dict[str, Any]
    state: str = "waiting"


@dataclass
class Thread:
    """The claimer's thread under a support message: where the relay of one handoff lives."""

    handoff_id: int
    channel: str
    thread_ts: str
    root_ts: str  # the thread's first message (context, transcript, buttons)
    team: str
    user: str
    agent_name: str
    person_name: str
    conversation_id: str
    language: str


def _plain(model: Any) -> Dict[str, Any]:
    """A services model as plain JSON data."""
    data: Dict[str, Any] = json.loads(model.json()) if hasattr(model, "json") else dict(model)
    return data


def _when(value: Any) -> Optional[dt.datetime]:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(
        dt.timezone.utc
    )


def parse_close(text: str) -> Tuple[str, Optional[str]]:
    """`resolved|unresolved|request [note]` -> (outcome, note); no outcome word: resolved."""
    words = text.split(maxsplit=1)
    if words and words[0].lower() in OUTCOME_WORDS:
        return OUTCOME_WORDS[words[0].lower()], (words[1].strip() if len(words) > 1 else None)
    return "resolved", (text.strip() or None)


class Desk:
    """One per Slack app process, built by `bot.slack.app.build_tools`."""

    def __init__(
        self,
        *,
        hub: Optional[PushHub],
        channel: Optional[str],
        services: AccountServices,
        people: People,
        memory: Memory,
        texts: Texts,
        heartbeat_seconds: float = 20.0,
    ):
        self._hub = hub
        self._channel = channel
        self._services = services
        self._people = people
        self._memory = memory
        self._texts = texts
        self._heartbeat = max(heartbeat_seconds, 0.5)
        self._client: Optional[AsyncWebClient] = None
        self._queue_task: Optional[asyncio.Task] = None
        self._following: Dict[int, asyncio.Task] = {}

    @property
    def enabled(self) -> bool:
        return self._hub is not None and bool(self._channel)

    async def start(self, client: AsyncWebClient) -> None:
        """Follow the queue (the hub is started by the relay, which shares it)."""
        self._client = client
        if not self.enabled:
            if self._channel:
                log.warning(
                    "the handoff desk in Slack needs REDIS_URL: the support channel is idle"
                )
            return
        assert self._hub is not None
        await self._hub.start()
        ready = asyncio.Event()
        self._queue_task = asyncio.create_task(self._follow_queue(ready), name="slack-desk-queue")
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({self._queue_task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()

    async def close(self) -> None:
        tasks = [t for t in (self._queue_task, *self._following.values()) if t is not None]
        self._following.clear()
        self._queue_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the queue: the support channel's messages -------------------------------------------

    async def _follow_queue(self, ready: asyncio.Event) -> None:
        assert self._hub is not None
        async with self._hub.subscribe(QUEUE_TOPIC) as messages:
            ready.set()
            async for message in messages:
                try:
                    await self._queue_changed(message)
                except Exception:  # one bad message must not end the subscription
                    log.exception("handoff desk: a queue change could not be shown in Slack")

    async def _queue_changed(self, message: PushMessage) -> None:
        data = message.reply.get("data") or {}
        handoff = data.get("handoff")
        if data.get("type") != "queue_changed" or not isinstance(handoff, Mapping):
            return
        try:
            handoff_id = int(handoff["id"])
        except (KeyError, TypeError, ValueError):
            return
        event = str(data.get("event") or "")
        if not await self._memory.first(f"push:{message.id}"):
            return  # another Slack app process took it
        if event == "created":
            await self._post(handoff_id, dict(handoff))
            return
        state = "waiting" if event == "requeued" else event
        await self._update_post(handoff_id, state, dict(handoff))
        if event in ENDED or event == "requeued":
            thread = await self._thread(handoff_id)
            if thread is not None:
                await self._end_thread(thread, self._ended_note(event, thread.language))

    def _ended_note(self, state: str, language: str) -> str:
        """Why a thread stopped relaying when it was not its holder's doing."""
        if state in ENDED:
            return self._texts.say(f"desk_ended_{state}", language)
        return self._texts.say("desk_requeued_note", language)

    async def _post(self, handoff_id: int, summary: Dict[str, Any]) -> None:
        """A new handoff in the support channel, once whatever process hears of it."""
        if not await self._memory.first(f"desk:posted:{handoff_id}"):
            return
        assert self._client is not None and self._channel
        post = Post(handoff_id, self._channel, "", summary)
        blocks = self._post_blocks(post)
        answer = await self._client.chat_postMessage(
            channel=self._channel, text=self._post_text(post), blocks=blocks
        )
        post.channel, post.ts = str(answer.get("channel") or self._channel), str(answer["ts"])
        await self._memory.remember(_post_key(handoff_id), asdict(post), RECORD_TTL)

    async def _update_post(
        self, handoff_id: int, state: str, summary: Mapping[str, Any], outcome: Optional[str] = None
    ) -> None:
        """The support message says the handoff's new state (the Claim button only if waiting)."""
        record = await self._memory.recall(_post_key(handoff_id))
        if record is None or self._client is None:
            return
        post = Post(**record)
        merged = {**post.summary, **{k: v for k, v in summary.items() if v is not None}}
        if outcome is not None:
            merged["outcome"] = outcome
        if post.state == state and merged == post.summary:
            return  # already says so (this process made the change itself)
        post.state, post.summary = state, merged
        await self._memory.remember(_post_key(handoff_id), asdict(post), RECORD_TTL)
        await self._client.chat_update(
            channel=post.channel,
            ts=post.ts,
            text=self._post_text(post),
            blocks=self._post_blocks(post),
        )

    def _post_text(self, post: Post) -> str:
        return self._texts.say("desk_post_title", CHANNEL_LANGUAGE, id=post.handoff_id)

    def _post_blocks(self, post: Post) -> List[Dict[str, Any]]:
        language = CHANNEL_LANGUAGE
        summary = post.summary
        buttons = (
            [DeskButton(DESK_CLAIM_ACTION, self._texts.say("desk_claim", language), "primary")]
            if post.state == "waiting"
            else []
        )
        return desk_card(
            post.handoff_id,
            self._post_text(post),
            self._facts(summary, language),
            status=self._status(post.state, summary, language),
            buttons=buttons,
        )

    def _status(self, state: str, summary: Mapping[str, Any], language: str) -> str:
        agent = escape(str(summary.get("agent_name") or "?"))
        if state == "closed":
            outcome = str(summary.get("outcome") or "")
            words = (
                self._texts.say(f"desk_outcome_{outcome}", language) if outcome in OUTCOMES else "—"
            )
            return self._texts.say("desk_state_closed", language, agent=agent, outcome=words)
        if state in ("waiting", "claimed", "cancelled", "converted"):
            return self._texts.say(f"desk_state_{state}", language, agent=agent)
        return escape(state)

    def _facts(
        self, summary: Mapping[str, Any], language: str, *, detail: bool = False
    ) -> List[Dict[str, str]]:
        """The handoff's facts as (label, value) fields, in `language`; unknown ones as a dash."""
        say = self._texts.say
        unknown = say("desk_unknown", language)

        def named(prefix: str, value: Any) -> str:
            key = f"{prefix}_{value}"
            return say(key, language) if value and self._texts.has(key) else str(value or unknown)

        since = _when(summary.get("created_at"))
        facts = [
            ("desk_field_account", str(summary.get("account_name") or unknown)),
            ("desk_field_person", str(summary.get("person_name") or unknown)),
            ("desk_field_role", i18n.role(summary.get("role"), language) or unknown),
            ("desk_field_language", named("desk_language", summary.get("language"))),
            ("desk_field_channel", named("desk_channel", summary.get("channel"))),
            ("desk_field_reason", named("desk_reason", summary.get("reason"))),
            ("desk_field_topic", str(summary.get("topic") or unknown)),
            (
                "desk_field_waiting_since",
                since.strftime("%Y-%m-%d %H:%M UTC") if since else unknown,
            ),
        ]
        if detail:
            facts.insert(3, ("desk_field_country", i18n.country(summary.get("country"), language)))
            slots = summary.get("slots") or {}
            if slots:
                said = ", ".join(f"{k}: {v}" for k, v in slots.items() if v is not None)
                facts.append(("desk_field_slots", said or unknown))
        return [{"label": say(label, language), "value": value} for label, value in facts]

    # --- claim --------------------------------------------------------------------------------

    async def claim(
        self, team: str, user: str, channel: str, message_ts: str, handoff_id: int
    ) -> None:
        """A click on Claim: exactly one agent wins (the services decide) and gets a thread."""
        assert self._client is not None
        found = await self._session(team, user, channel)
        if found is None:
            return
        person, session = found
        held = await self._thread(handoff_id)
        if held is not None and (held.team, held.user) == (team, user):
            return  # a second click of the agent who has it already
        try:
            detail = await session.claim_handoff(handoff_id)
        except Forbidden:
            await self._alone(channel, user, self._texts.say("desk_not_agent", person.language))
            return
        except AlreadyClaimed as taken:
            text = self._texts.say(
                "desk_already_claimed", person.language, agent=escape(taken.claimed_by or "?")
            )
            await self._alone(channel, user, text)
            return
        except Conflict:
            await self._alone(channel, user, self._texts.say("desk_gone", person.language))
            return
        except NotFound:
            await self._alone(channel, user, self._texts.say("desk_gone", person.language))
            return
        except AccountServicesError:
            log.exception("handoff desk: claim %s failed", handoff_id)
            await self._alone(channel, user, self._texts.say("unavailable", person.language))
            return
        plain = _plain(detail)
        agent_name = str(plain.get("agent_name") or "")
        thread = Thread(
            handoff_id=handoff_id,
            channel=channel,
            thread_ts=message_ts,
            root_ts="",
            team=team,
            user=user,
            agent_name=agent_name,
            person_name=str(plain.get("person_name") or ""),
            conversation_id=str(plain.get("conversation_id") or ""),
            language=person.language,
        )
        answer = await self._client.chat_postMessage(
            channel=channel,
            thread_ts=message_ts,
            text=self._thread_intro(thread, plain),
            blocks=self._thread_blocks(thread, plain, open_=True),
        )
        thread.root_ts = str(answer["ts"])
        await self._keep(thread)
        await self.follow(thread)
        summary = {k: plain[k] for k in SUMMARY_FIELDS if k in plain}
        await self._update_post(handoff_id, "claimed", summary)
        await self._announce(handoff_id, "claimed", summary)

    def _thread_intro(self, thread: Thread, detail: Mapping[str, Any]) -> str:
        channel = detail.get("channel")
        key = f"desk_channel_{channel}"
        return self._texts.say(
            "desk_thread_intro",
            thread.language,
            agent=escape(thread.agent_name),
            person=escape(thread.person_name),
            channel=self._texts.say(key, thread.language) if self._texts.has(key) else channel,
        )

    def _thread_blocks(
        self,
        thread: Thread,
        detail: Mapping[str, Any],
        *,
        open_: bool,
        status: Optional[str] = None,
    ) -> List[Dict[str, Any]]:
        language = thread.language
        lines = [self._thread_intro(thread, detail)]
        for message in list(detail.get("messages") or [])[-MAX_TRANSCRIPT:]:
            lines.append(self._line(message, thread))
        buttons: List[DeskButton] = []
        if open_:
            buttons = [
                DeskButton(
                    DESK_CLOSE_ACTION_PREFIX + outcome,
                    self._texts.say(
                        "desk_close",
                        language,
                        outcome=self._texts.say(f"desk_outcome_{outcome}", language),
                    ),
                    "primary" if outcome == "resolved" else None,
                )
                for outcome in OUTCOMES
            ]
            buttons.append(
                DeskButton(DESK_RELEASE_ACTION, self._texts.say("desk_release", language))
            )
        return desk_card(
            thread.handoff_id,
            self._texts.say("desk_post_title", language, id=thread.handoff_id),
            self._facts(detail, language, detail=True),
            status=status,
            lines=lines,
            buttons=buttons,
        )

    def _line(self, message: Mapping[str, Any], thread: Thread) -> str:
        who = str(message.get("who") or "")
        if who == "customer":
            name = thread.person_name
        elif who == "assistant":
            name = self._texts.say("desk_who_assistant", thread.language)
        elif who == "agent":
            name = str(message.get("author") or thread.agent_name)
        else:
            name = self._texts.say("desk_who_system", thread.language)
        at = _when(message.get("at"))
        return self._texts.say(
            "desk_line",
            thread.language,
            who=escape(name),
            at=at.strftime("%H:%M") if at else "",
            text=escape(str(message.get("text") or "")),
        )

    # --- the thread ---------------------------------------------------------------------------

    async def thread_at(self, channel: str, thread_ts: str) -> Optional[Thread]:
        """The open handoff thread at (channel, thread), if that is one."""
        found = await self._memory.recall(_thread_at_key(channel, thread_ts))
        return await self._thread(int(found["id"])) if found else None

    async def say(self, thread: Thread, team: str, user: str, text: str) -> None:
        """A message typed in the thread: to the customer when its writer holds the handoff."""
        session = await self._as_holder(thread, team, user)
        if session is None:
            return
        try:
            message = _plain(await session.desk_say(thread.handoff_id, text))
        except AccountServicesError as error:
            await self._refused(thread, user, error, "a message was not delivered")
            return
        # What the services stored (masked) is what crosses Redis and what the customer reads.
        said = str(message.get("text") or text)
        # The name the customer is shown is the services' (the agent's first name).
        data = {"type": "agent_message", "agent_name": message.get("author") or thread.agent_name}
        await self._publish(thread.conversation_id, {"text": said, "data": data}, kind="agent")
        await self._publish(
            desk_topic(thread.handoff_id),
            {"text": said, "data": {**data, "id": message.get("id"), "source": "slack"}},
            kind="agent",
        )

    async def close_handoff(
        self, thread: Thread, team: str, user: str, outcome: str, note: Optional[str] = None
    ) -> None:
        """Close from the thread (a Close button or `/premier close`), by its holder."""
        session = await self._as_holder(thread, team, user)
        if session is None:
            return
        try:
            await session.close_handoff(thread.handoff_id, outcome, note=note)
        except AccountServicesError as error:
            await self._refused(thread, user, error, "it could not be closed")
            return
        words = self._texts.say(f"desk_outcome_{outcome}", thread.language)
        agent = escape(thread.agent_name)
        await self._end_thread(
            thread,
            self._texts.say("desk_closed_note", thread.language, outcome=words, agent=agent),
        )
        summary = {"id": thread.handoff_id, "agent_name": thread.agent_name, "outcome": outcome}
        await self._update_post(thread.handoff_id, "closed", summary, outcome=outcome)
        await self._announce(thread.handoff_id, "closed", summary)

    async def release(self, thread: Thread, team: str, user: str) -> None:
        """Back to the queue, by its holder: the support message offers Claim again."""
        session = await self._as_holder(thread, team, user)
        if session is None:
            return
        try:
            await session.release_handoff(thread.handoff_id)
        except AccountServicesError as error:
            await self._refused(thread, user, error, "it could not be released")
            return
        agent = escape(thread.agent_name)
        await self._end_thread(
            thread, self._texts.say("desk_released_note", thread.language, agent=agent)
        )
        summary = {"id": thread.handoff_id, "agent_name": None}
        await self._update_post(thread.handoff_id, "waiting", summary)
        await self._announce(thread.handoff_id, "requeued", summary)

    async def _as_holder(self, thread: Thread, team: str, user: str) -> Optional[AccountSession]:
        """A session as the thread's holder when `user` is them; anyone else is told who is."""
        if (team, user) != (thread.team, thread.user):
            agent = escape(thread.agent_name)
            text = self._texts.say("desk_not_holder", thread.language, agent=agent)
            await self._alone(thread.channel, user, text, thread.thread_ts)
            return None
        found = await self._session(team, user, thread.channel, thread.thread_ts)
        return found[1] if found else None

    async def _refused(
        self, thread: Thread, user: str, error: AccountServicesError, what: str
    ) -> None:
        """The services refused the holder (no longer theirs) or did not answer: say which."""
        if isinstance(error, (Conflict, Forbidden, NotFound)):
            key = "desk_not_yours"
        else:
            log.exception("handoff desk: handoff %s: %s", thread.handoff_id, what)
            key = "unavailable"
        text = self._texts.say(key, thread.language)
        await self._alone(thread.channel, user, text, thread.thread_ts)

    async def close_by_command(
        self, team: str, user: str, channel: str, text: str
    ) -> Optional[str]:
        """`/premier close ...` typed as a command in `channel`: what to tell the agent, if any.

        Slack does not say in which thread a command was typed: the agent's one handoff thread
        in the channel is meant; with none or several they are told so.
        """
        held = await self._memory.recall(_held_key(team, user, channel))
        ids = [int(i) for i in (held or {}).get("ids", [])]
        threads = [t for t in [await self._thread(i) for i in ids] if t is not None]
        try:
            language = (await self._people.find(team, user)).language
        except (NotLinked, AccountServicesError):
            language = CHANNEL_LANGUAGE
        if not threads:
            return self._texts.say("desk_none_held", language)
        if len(threads) > 1:
            return self._texts.say("desk_several_held", language)
        outcome, note = parse_close(text)
        await self.close_handoff(threads[0], team, user, outcome, note)
        return None

    # --- the relay: the customer's side in the thread -----------------------------------------

    async def follow(self, thread: Thread) -> None:
        """Post `desk:<id>`'s customer messages in the thread, and keep the claim alive.

        Returns once subscribed: what is published from then on reaches the thread.
        """
        if self._hub is None or thread.handoff_id in self._following:
            return
        ready = asyncio.Event()
        task = asyncio.create_task(
            self._follow(thread, ready), name=f"slack-desk-{thread.handoff_id}"
        )
        self._following[thread.handoff_id] = task

        def done(_: asyncio.Task) -> None:
            if self._following.get(thread.handoff_id) is task:
                del self._following[thread.handoff_id]

        task.add_done_callback(done)
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()

    async def _follow(self, thread: Thread, ready: asyncio.Event) -> None:
        assert self._hub is not None and self._client is not None
        try:
            async with self._hub.subscribe(desk_topic(thread.handoff_id)) as messages:
                ready.set()
                iterator = messages.__aiter__()
                while True:
                    try:
                        message = await asyncio.wait_for(iterator.__anext__(), self._heartbeat)
                    except asyncio.TimeoutError:
                        if not await self._still_held(thread):
                            return
                        continue
                    except StopAsyncIteration:
                        return
                    if await self._thread(thread.handoff_id) is None:
                        return  # ended (closed, released) meanwhile
                    try:
                        await self._relay(thread, message)
                    except (SlackApiError, AccountServicesError):
                        log.exception("handoff desk: a message could not be posted in the thread")
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handoff desk: the thread of handoff %s stopped", thread.handoff_id)

    async def _relay(self, thread: Thread, message: PushMessage) -> None:
        assert self._client is not None
        text = str(message.reply.get("text") or "")
        data = message.reply.get("data") or {}
        if message.kind == "customer" and text:
            line = self._texts.say(
                "desk_customer_said",
                thread.language,
                person=escape(thread.person_name),
                text=escape(text),
            )
        elif message.kind == "agent" and text and data.get("source") != "slack":
            agent = str(data.get("agent_name") or thread.agent_name)
            line = self._texts.say(
                "desk_console_said", thread.language, agent=escape(agent), text=escape(text)
            )
        else:
            return  # typing, read receipts, state changes (the queue topic says those)
        if not await self._memory.first(f"push:{message.id}"):
            return
        await self._client.chat_postMessage(
            channel=thread.channel, thread_ts=thread.thread_ts, text=line
        )

    async def _still_held(self, thread: Thread) -> bool:
        """The heartbeat: read the handoff as its holder; False once it is no longer theirs."""
        try:
            person = await self._people.find(thread.team, thread.user)
            session = self._services.as_user(person.token, user_id=person.user_id, channel="slack")
            try:
                detail = _plain(await session.desk_handoff(thread.handoff_id))
            except (Forbidden, NotFound):
                # No longer theirs: back in the queue, or someone else's, or gone.
                queue = await session.desk_queue()
                waiting = any(h.id == thread.handoff_id for h in queue.waiting)
                detail = {"state": "waiting" if waiting else "taken"}
        except NotLinked:
            detail = {"state": "taken"}
        except AccountServicesError:
            return True  # the services are not answering: try again at the next beat
        if detail.get("state") == "claimed":
            return True
        if await self._thread(thread.handoff_id) is None:
            return False
        state = str(detail.get("state") or "")
        await self._end_thread(thread, self._ended_note(state, thread.language))
        if state == "waiting" or state in ENDED:
            known = {"agent_name": detail.get("agent_name"), "outcome": detail.get("outcome")}
            await self._update_post(thread.handoff_id, state, known)
        return False

    # --- keeping track ------------------------------------------------------------------------

    async def _thread(self, handoff_id: int) -> Optional[Thread]:
        record = await self._memory.recall(_thread_key(handoff_id))
        return Thread(**record) if record else None

    async def _keep(self, thread: Thread) -> None:
        await self._memory.remember(_thread_key(thread.handoff_id), asdict(thread), RECORD_TTL)
        await self._memory.remember(
            _thread_at_key(thread.channel, thread.thread_ts), {"id": thread.handoff_id}, RECORD_TTL
        )
        held_key = _held_key(thread.team, thread.user, thread.channel)
        held = await self._memory.recall(held_key) or {"ids": []}
        ids = [i for i in held["ids"] if i != thread.handoff_id] + [thread.handoff_id]
        await self._memory.remember(held_key, {"ids": ids}, RECORD_TTL)

    async def _end_thread(self, thread: Thread, note: str) -> None:
        """The thread no longer relays: its buttons go, a note says why (once)."""
        if not await self._memory.first(f"desk:ended:{thread.handoff_id}:{thread.root_ts}"):
            return
        await self._memory.drop(_thread_key(thread.handoff_id))
        await self._memory.drop(_thread_at_key(thread.channel, thread.thread_ts))
        held_key = _held_key(thread.team, thread.user, thread.channel)
        held = await self._memory.recall(held_key) or {"ids": []}
        ids = [i for i in held["ids"] if i != thread.handoff_id]
        await self._memory.remember(held_key, {"ids": ids}, RECORD_TTL)
        task = self._following.get(thread.handoff_id)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        assert self._client is not None
        with contextlib.suppress(SlackApiError):
            await self._client.chat_update(
                channel=thread.channel,
                ts=thread.root_ts,
                text=note,
                blocks=[
                    {"type": "section", "text": {"type": "mrkdwn", "text": note}},
                ],
            )
        await self._client.chat_postMessage(
            channel=thread.channel, thread_ts=thread.thread_ts, text=note
        )

    async def _announce(self, handoff_id: int, event: str, summary: Mapping[str, Any]) -> None:
        """Consoles and the customer's watch learn of a change made from Slack at once."""
        state = {"claimed": "claimed", "requeued": "waiting", "closed": "closed"}[event]
        await self._publish(
            desk_topic(handoff_id),
            {"text": "", "data": {"type": "handoff_state", "state": state}},
            kind="system",
        )
        await self._publish(
            QUEUE_TOPIC,
            {
                "text": "",
                "data": {
                    "type": "queue_changed",
                    "event": event,
                    "handoff": {**summary, "id": handoff_id},
                },
            },
            kind="system",
        )

    async def _publish(self, topic: str, reply: Dict[str, Any], *, kind: str) -> None:
        if self._hub is None or not topic:
            return
        try:
            await self._hub.publish(topic, reply, kind=kind)
        except (PushUnavailable, RuntimeError, ValueError):
            log.warning("handoff desk: a %s message could not be pushed to %s", kind, topic)

    # --- who clicked --------------------------------------------------------------------------

    async def _session(
        self, team: str, user: str, channel: str, thread_ts: Optional[str] = None
    ) -> Optional[Tuple[Person, AccountSession]]:
        """The Slack user's person and a session as them; None (and they are told) otherwise."""
        try:
            person = await self._people.find(team, user)
        except NotLinked:
            text = self._texts.say("not_linked", CHANNEL_LANGUAGE, team=team, user=user)
            await self._alone(channel, user, text, thread_ts)
            return None
        except AccountServicesError:
            log.exception("handoff desk: the Slack link exchange failed")
            await self._alone(
                channel, user, self._texts.say("unavailable", CHANNEL_LANGUAGE), thread_ts
            )
            return None
        session = self._services.as_user(person.token, user_id=person.user_id, channel="slack")
        return person, session

    async def _alone(
        self, channel: str, user: str, text: str, thread_ts: Optional[str] = None
    ) -> None:
        assert self._client is not None
        await self._client.chat_postEphemeral(
            channel=channel, user=user, text=text, thread_ts=thread_ts
        )


def outcome_of(action_id: str) -> Optional[str]:
    """The outcome a Close button stands for."""
    outcome = action_id[len(DESK_CLOSE_ACTION_PREFIX) :]
    return (
        outcome if action_id.startswith(DESK_CLOSE_ACTION_PREFIX) and outcome in OUTCOMES else None
    )
