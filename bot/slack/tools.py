"""What the listeners work with, built once per process by `bot.slack.app.build_tools`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.client import AccountServices
from bot.slack.assistant import Assistant
from bot.slack.memory import Memory
from bot.slack.people import People
from bot.slack.texts import Texts

if TYPE_CHECKING:
    from bot.slack.desk import Desk
    from bot.slack.relay import Relay


@dataclass
class Tools:
    services: AccountServices
    people: People
    assistant: Assistant
    memory: Memory
    texts: Texts
    relay: Relay
    desk: Desk

    async def close(self) -> None:
        await self.desk.close()
        await self.relay.close()
        await self.assistant.aclose()
        await self.services.aclose()
        await self.memory.close()
