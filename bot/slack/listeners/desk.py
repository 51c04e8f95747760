"""The handoff desk's buttons (Claim; Close with an outcome; Release) and its threads' messages.

Registered before the other message listeners: a reply in a handoff's thread is for the
customer (or `/premier close ...`), never a question to the assistant.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.blocks import (
    DESK_CLAIM_ACTION,
    DESK_CLOSE_ACTION_PREFIX,
    DESK_RELEASE_ACTION,
    desk_handoff_id,
)
from bot.slack.desk import outcome_of, parse_close
from bot.slack.tools import Tools

CLOSE_ACTION = re.compile(rf"^{DESK_CLOSE_ACTION_PREFIX}[a-z_]+$")
# Typed in a handoff's thread: `/premier close [outcome] [note]` (or without the slash).
CLOSE_TYPED = re.compile(r"^/?premier\s+close\b\s*(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)


def _clicker(body: Dict[str, Any]) -> tuple:
    user = body.get("user") or {}
    team = str(user.get("team_id") or (body.get("team") or {}).get("id", ""))
    container = body.get("container") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
    return team, str(user.get("id", "")), channel, container


def register(app: AsyncApp, tools: Tools) -> None:
    desk = tools.desk

    @app.action(DESK_CLAIM_ACTION)
    async def claim(ack: AsyncAck, body: Dict[str, Any], action: Dict[str, Any]) -> None:
        await ack()
        handoff_id = desk_handoff_id(str(action.get("block_id", "")))
        team, user, channel, container = _clicker(body)
        message_ts = str(container.get("message_ts") or "")
        if handoff_id is None or not (user and channel and message_ts):
            return
        await desk.claim(team, user, channel, message_ts, handoff_id)

    @app.action(CLOSE_ACTION)
    async def close(ack: AsyncAck, body: Dict[str, Any], action: Dict[str, Any]) -> None:
        await ack()
        outcome = outcome_of(str(action.get("action_id", "")))
        team, user, channel, container = _clicker(body)
        thread_ts = str(container.get("thread_ts") or "")
        thread = await desk.thread_at(channel, thread_ts) if thread_ts else None
        if outcome is None or thread is None:
            return  # the thread ended meanwhile: its buttons are gone already
        await desk.close_handoff(thread, team, user, outcome)

    @app.action(DESK_RELEASE_ACTION)
    async def release(ack: AsyncAck, body: Dict[str, Any]) -> None:
        await ack()
        team, user, channel, container = _clicker(body)
        thread_ts = str(container.get("thread_ts") or "")
        thread = await desk.thread_at(channel, thread_ts) if thread_ts else None
        if thread is not None:
            await desk.release(thread, team, user)

    async def in_a_handoff_thread(event: Dict[str, Any]) -> bool:
        """A person's message in the thread of a handoff this app relays."""
        if event.get("subtype") or event.get("bot_id"):
            return False
        channel, thread_ts = event.get("channel"), event.get("thread_ts")
        if not (isinstance(channel, str) and isinstance(thread_ts, str)):
            return False
        return await desk.thread_at(channel, thread_ts) is not None

    @app.event("message", matchers=[in_a_handoff_thread])
    async def thread_message(event: Dict[str, Any], body: Dict[str, Any]) -> None:
        text = str(event.get("text") or "").strip()
        thread = await desk.thread_at(str(event["channel"]), str(event["thread_ts"]))
        if thread is None or not text:
            return
        team = str(event.get("user_team") or event.get("team") or body.get("team_id") or "")
        user = str(event.get("user") or "")
        typed = CLOSE_TYPED.match(text)
        if typed:
            outcome, note = parse_close(typed.group("rest"))
            await desk.close_handoff(thread, team, user, outcome, note)
        else:
            await desk.say(thread, team, user, text)
