"""The output channel every chat channel hands to Rasa: it keeps each bot message whole.

Rasa's `CollectingOutputChannel` splits a text on blank lines and sends the
structured part as a message of its own; a channel then cannot tell which data
belongs to which sentence. This one keeps text, buttons and data together as one
`Reply`, and can forward each reply as it is produced (a widget socket or Slack
sends it at once instead of waiting for the whole turn).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel

from bot.chat.replies import Reply

Forward = Callable[[Reply], Awaitable[None]]


class ReplyCollector(OutputChannel):
    """Collects the turn's replies in order (and forwards each one, when asked to)."""

    def __init__(self, channel: str, forward: Optional[Forward] = None):
        self.channel = channel
        self.replies: List[Reply] = []
        self._forward = forward

    @classmethod
    def name(cls) -> str:
        return "chat"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        reply = Reply.from_bot_message(message)
        if not reply.text and reply.data is None and not reply.buttons:
            return
        self.replies.append(reply)
        if self._forward is not None:
            await self._forward(reply)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})
