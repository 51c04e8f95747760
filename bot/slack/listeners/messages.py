"""Direct messages to the app, @mentions in channels, and follow-ups in their threads."""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.conversation import converse, event_place
from bot.slack.tools import Tools

MENTION = re.compile(r"<@[A-Z0-9]+>")


def _team(body: Dict[str, Any], event: Dict[str, Any]) -> str:
    """The asker's own workspace (in a channel shared between workspaces it is theirs)."""
    return str(event.get("user_team") or event.get("team") or body.get("team_id") or "")


def _mentions(text: str, bot_user_id: Optional[str]) -> bool:
    return bool(bot_user_id) and f"<@{bot_user_id}>" in text


def register(app: AsyncApp, tools: Tools) -> None:
    @app.event("app_mention")
    async def mentioned(
        event: Dict[str, Any], body: Dict[str, Any], client: AsyncWebClient
    ) -> None:
        """An @mention in a channel: answered in its thread, which is a conversation of its own."""
        place = event_place(_team(body, event), event)
        if place is None:
            return
        # From now on, replies in this thread reach the app without another mention.
        await tools.memory.first(f"thread:{place.thread}")
        text = MENTION.sub("", str(event.get("text", ""))).strip() or "help"
        await converse(client, tools, place, text)

    @app.event("message")
    async def message(
        event: Dict[str, Any],
        body: Dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        """A DM to the app, or a reply in a channel thread the app is answering in."""
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, other bots: not a person's question
        text = str(event.get("text", "")).strip()
        place = event_place(_team(body, event), event)
        if place is None or not text:
            return
        if place.kind == "channel":
            if event.get("thread_ts") is None or _mentions(text, context.bot_user_id):
                return  # top-level chatter is not for the app; a mention comes as app_mention
            if not await tools.memory.seen(f"thread:{place.thread}"):
                return
        await converse(client, tools, place, text)
