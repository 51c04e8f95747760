"""The slash command: `/premier warranty 7XK2M93`, `/premier invoices unpaid`, `/premier help`.

`/premier close [resolved|unresolved|request] [note]` is the handoff desk's: it closes the
agent's handoff thread in that channel (bot/slack/desk.py).
"""

from __future__ import annotations

from typing import Any, Dict

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.conversation import Place, converse
from bot.slack.tools import Tools

COMMAND = "/premier"
CLOSE_WORD = "close"


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
        word, _, rest = text.partition(" ")
        if word.lower() == CLOSE_WORD and tools.desk.enabled:
            told = await tools.desk.close_by_command(place.team, place.user, place.channel, rest)
            if told:
                await respond(text=told, response_type="ephemeral", replace_original=False)
            return
        await converse(client, tools, place, text, respond=respond)
