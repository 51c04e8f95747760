"""A click on one of the assistant's buttons: the choice continues the conversation, once.

The buttons come off the message as soon as one is clicked (replaced by the choice made),
and the click is remembered: a second click, or a click that raced the first, does nothing.
Only the person who was asked can answer; anyone else's click changes nothing.
"""

from __future__ import annotations

import re
from typing import Any, Dict

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import CHOICE_ACTION_PREFIX, Choices, chosen, escape
from bot.slack.conversation import Place, converse
from bot.slack.tools import Tools

CHOICE_ACTION = re.compile(rf"^{CHOICE_ACTION_PREFIX}\d+$")


def register(app: AsyncApp, tools: Tools) -> None:
    @app.action(CHOICE_ACTION)
    async def choose(
        ack: AsyncAck,
        body: Dict[str, Any],
        action: Dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        choices = Choices.parse(str(action.get("block_id", "")))
        user = body.get("user") or {}
        if choices is None or user.get("id") != choices.asker:
            return
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        if not await tools.memory.first(f"click:{channel}:{container.get('message_ts')}"):
            return
        title = str((action.get("text") or {}).get("text", ""))
        message = body.get("message") or {}
        if message.get("blocks"):
            blocks = chosen(message["blocks"], choices.block_id(), title)
        else:  # an ephemeral message is not sent back with the click: show the choice alone
            blocks = chosen([{"block_id": choices.block_id()}], choices.block_id(), title)
        await respond(
            replace_original=True, text=message.get("text") or escape(title), blocks=blocks
        )
        team = str(user.get("team_id") or (body.get("team") or {}).get("id", ""))
        place = Place(team, choices.asker, channel, choices.kind, choices.thread_ts)
        await converse(client, tools, place, str(action.get("value", "")), respond=respond)
