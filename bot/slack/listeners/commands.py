"""The slash command: `/premier warranty 7XK2M93`, `/premier invoices unpaid`, `/premier help`."""

from __future__ import annotations

from typing import Any, Dict

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.conversation import Place, converse
from bot.slack.tools import Tools

COMMAND = "/premier"


def register(app: AsyncApp, tools: Tools) -> None:
    @app.command(COMMAND)
    async def premier(
        ack: AsyncAck, command: Dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """Acknowledged at once; the answer follows, to the asker alone, wherever it was typed."""
        await ack()
        place = Place(
            team=str(command.get("team_id", "")),
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id", "")),
            kind="command",
        )
        text = str(command.get("text") or "").strip() or "help"
        await converse(client, tools, place, text, respond=respond)
