"""Messages pushed into a Slack conversation later (an agent's answer, a notice) reach Slack.

The push hub (`bot.chat.push`) delivers to whoever subscribes to a conversation. The
Slack app subscribes, through Redis, to each conversation it has carried a message for,
and posts what arrives where that conversation lives in Slack - to the person alone when
it lives in a channel. Without `REDIS_URL` the hub is in-process in the Rasa server and
cannot reach this process: pushed messages then stay on the portal's event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Optional, Tuple

from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.push import PushHub
from bot.chat.replies import Reply

if TYPE_CHECKING:
    from bot.slack.conversation import Place
    from bot.slack.tools import Tools

log = logging.getLogger(__name__)
MAX_WATCHED = 2_000


class Relay:
    """One subscription per conversation the app has carried (the least recent go first)."""

    def __init__(self, hub: Optional[PushHub]):
        self._hub = hub
        self._client: Optional[AsyncWebClient] = None
        self._tools: Optional[Tools] = None
        self._watched: OrderedDict[str, Tuple[asyncio.Task, Place, Optional[str]]] = OrderedDict()

    async def start(self, client: AsyncWebClient, tools: Tools) -> None:
        self._client, self._tools = client, tools
        if self._hub is not None:
            await self._hub.start()

    @property
    def enabled(self) -> bool:
        return self._hub is not None

    def watch(self, conversation: str, place: Place, language: Optional[str]) -> None:
        """Post this conversation's pushed messages at `place` from now on."""
        if self._hub is None or self._client is None:
            return
        if conversation in self._watched:
            task, _, _ = self._watched.pop(conversation)
            if not task.done():
                self._watched[conversation] = (task, place, language)
                return
        while len(self._watched) >= MAX_WATCHED:
            _, (oldest, _, _) = self._watched.popitem(last=False)
            oldest.cancel()
        task = asyncio.ensure_future(self._follow(conversation))
        self._watched[conversation] = (task, place, language)

    def watching(self, conversation: str) -> bool:
        entry = self._watched.get(conversation)
        return entry is not None and not entry[0].done()

    async def _follow(self, conversation: str) -> None:
        from bot.slack.conversation import deliver

        assert self._hub is not None and self._client is not None and self._tools is not None
        async with self._hub.subscribe(conversation) as messages:
            async for message in messages:
                _, place, language = self._watched[conversation]
                try:
                    await deliver(
                        self._client,
                        self._tools,
                        place,
                        [Reply(**message.reply)],
                        public=False,
                        language=language,
                    )
                except Exception:  # one undeliverable message must not end the subscription
                    log.exception("a pushed message could not be posted to Slack")

    async def close(self) -> None:
        tasks = [task for task, _, _ in self._watched.values()]
        self._watched.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._hub is not None:
            await self._hub.close()
