"""Where a question was asked, which conversation it continues, and where its answers go.

The conversation rule is the layer's (`bot.chat.conversations`): a Slack thread is
its own conversation. Here a "thread" is what Slack shows as one: a direct
message with the app (the DM itself, or a thread inside it), a thread in a
channel (an @mention starts one; its follow-ups continue it), or the channel a
/premier command was typed in.

Where answers go:
- a DM, or a thread in it: posted there;
- a channel: in the thread, for everybody only when the question is one anyone
  may ask (help, support contacts); anything about the account is posted
  ephemerally, to the asker alone;
- a /premier command: to the asker alone, through the command's response URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Dict, Iterable, Optional

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.replies import Reply
from bot.client.errors import AccountServicesError
from bot.language import detect_language
from bot.observability import accept_request_id, current_request_id, request_scope
from bot.slack.assistant import AssistantTurn, AssistantUnavailable, TokenRefused
from bot.slack.blocks import Choices, Kind, render
from bot.slack.people import NotLinked
from bot.slack.tools import Tools

log = logging.getLogger(__name__)
Respond = Callable[..., Awaitable[Any]]
# A slow answer gets a mark on the question after this long (Slack's "typing" for apps).
SLOW_AFTER_SECONDS = 1.5
WORKING_REACTION = "hourglass_flowing_sand"


@dataclass(frozen=True)
class Place:
    """One question's place in Slack."""

    team: str
    user: str
    channel: str
    kind: Kind
    thread_ts: Optional[str] = None
    # The person's own message (marked while a slow answer is on its way); None for commands.
    message_ts: Optional[str] = None

    @property
    def thread(self) -> str:
        """The thread as the layer's conversation rule takes it (letters, digits, '.', '-')."""
        return f"{self.channel}-{self.thread_ts}" if self.thread_ts else self.channel

    @property
    def choices(self) -> Choices:
        return Choices(asker=self.user, kind=self.kind, thread_ts=self.thread_ts)


async def deliver(
    client: AsyncWebClient,
    tools: Tools,
    place: Place,
    replies: Iterable[Reply],
    *,
    public: bool,
    language: Optional[str],
    respond: Optional[Respond] = None,
) -> None:
    """Post `replies` where `place` says they belong (see the module docstring)."""

    def more(count: int) -> str:
        return tools.texts.say("more_items", language, count=count)

    for reply in replies:
        blocks = render(reply, place.choices, more)
        text = reply.text or " "
        if place.kind == "command" and respond is not None:
            await respond(
                text=text, blocks=blocks, response_type="ephemeral", replace_original=False
            )
        elif place.kind == "channel" and not public:
            await client.chat_postEphemeral(
                channel=place.channel,
                user=place.user,
                text=text,
                blocks=blocks,
                thread_ts=place.thread_ts,
            )
        else:
            await client.chat_postMessage(
                channel=place.channel, text=text, blocks=blocks, thread_ts=place.thread_ts
            )


async def say_alone(
    client: AsyncWebClient, place: Place, text: str, respond: Optional[Respond] = None
) -> None:
    """Something for the asker only (not linked, unavailable): never to a whole channel."""
    if place.kind == "command" and respond is not None:
        await respond(text=text, response_type="ephemeral", replace_original=False)
    elif place.kind == "channel":
        await client.chat_postEphemeral(
            channel=place.channel, user=place.user, text=text, thread_ts=place.thread_ts
        )
    else:
        await client.chat_postMessage(channel=place.channel, text=text, thread_ts=place.thread_ts)


@contextlib.asynccontextmanager
async def _working_mark(client: AsyncWebClient, place: Place, task: asyncio.Future) -> Any:
    """Mark the question when the answer is slow; take the mark off once it has come."""
    marked = False
    if place.message_ts is not None:
        done, _ = await asyncio.wait({task}, timeout=SLOW_AFTER_SECONDS)
        if not done:
            with contextlib.suppress(SlackApiError):
                await client.reactions_add(
                    channel=place.channel, timestamp=place.message_ts, name=WORKING_REACTION
                )
                marked = True
    try:
        yield
    finally:
        if marked:
            with contextlib.suppress(SlackApiError):
                await client.reactions_remove(
                    channel=place.channel, timestamp=place.message_ts, name=WORKING_REACTION
                )


async def converse(
    client: AsyncWebClient,
    tools: Tools,
    place: Place,
    text: str,
    *,
    respond: Optional[Respond] = None,
) -> Optional[AssistantTurn]:
    """One question from Slack, answered where it belongs.

    Everything it logs, and the assistant's turn in every part, carries one request id: the
    Slack request's `X-Request-ID` (nginx's) when the events endpoint kept one, else a new one.

    Returns the turn, or None when nothing reached the assistant (not linked, unavailable).
    """
    with request_scope(accept_request_id(current_request_id())):
        try:
            person = await tools.people.find(place.team, place.user)
        except NotLinked:
            language = detect_language(text) or "en"
            await say_alone(
                client,
                place,
                tools.texts.say("not_linked", language, team=place.team, user=place.user),
                respond,
            )
            return None
        except AccountServicesError:
            log.exception("the Slack link exchange failed")
            await say_alone(client, place, tools.texts.say("unavailable", "en"), respond)
            return None

        async def ask() -> AssistantTurn:
            nonlocal person
            try:
                return await tools.assistant.ask(person.token, place.thread, text)
            except TokenRefused:
                tools.people.forget(place.team, place.user)
                person = await tools.people.find(place.team, place.user)
                return await tools.assistant.ask(person.token, place.thread, text)

        task = asyncio.ensure_future(ask())
        try:
            async with _working_mark(client, place, task):
                turn = await task
        except (AssistantUnavailable, TokenRefused, NotLinked, AccountServicesError):
            log.exception("the assistant could not answer a Slack message")
            await say_alone(client, place, tools.texts.say("unavailable", person.language), respond)
            return None
        await deliver(
            client,
            tools,
            place,
            turn.replies,
            public=turn.public,
            language=person.language,
            respond=respond,
        )
        if place.kind != "command":
            # Later messages of this conversation (an agent's answer) are posted here too.
            tools.relay.watch(turn.conversation, replace(place, message_ts=None), person.language)
        return turn


def event_place(team: str, event: Dict[str, Any]) -> Optional[Place]:
    """The place of a message or app_mention event; None for what is not a person's question."""
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str)):
        return None
    if event.get("channel_type") == "im":
        return Place(team, user, channel, "im", event.get("thread_ts"), ts)
    # In a channel an @mention starts a thread on itself; a reply continues its thread.
    return Place(team, user, channel, "channel", event.get("thread_ts") or ts, ts)
