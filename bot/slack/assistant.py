"""One Slack message through the assistant: Rasa's `slack_bridge` channel, as the person.

The bridge (`bot/channels/slack_bridge.py`) hands the message to the conversation layer,
which verifies the token and gives the thread its own conversation; the answer comes back
as the layer's replies plus whether the question was a public one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List

import httpx

from bot.chat.replies import Reply
from bot.observability import REQUEST_ID_HEADER, current_request_id

BRIDGE_PATH = "/webhooks/slack_bridge/webhook"


class AssistantUnavailable(Exception):
    """Rasa did not answer (down, restarting, or too slow); nothing was said to the person."""


class TokenRefused(Exception):
    """The layer refused the token (its session ended): exchange the link again and retry."""


@dataclass
class AssistantTurn:
    conversation: str
    # True only for questions anyone may ask (help, contacts): fit for a whole channel.
    public: bool
    replies: List[Reply] = field(default_factory=list)


class Assistant:
    """The HTTP client of the bridge; one per process (it owns the connection pool)."""

    def __init__(self, rasa_url: str, *, timeout: float = 60.0):
        self._http = httpx.AsyncClient(
            base_url=rasa_url.rstrip("/"), timeout=httpx.Timeout(timeout, connect=3.0)
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ask(self, token: str, thread: str, text: str) -> AssistantTurn:
        """Send `text` into the person's conversation of `thread`.

        Raises:
            TokenRefused: the token is no longer accepted.
            AssistantUnavailable: no answer from Rasa.
        """
        try:
            response = await self._http.post(
                BRIDGE_PATH,
                headers={"Authorization": f"Bearer {token}", **_request_id_header()},
                json={"message": text, "thread": thread},
            )
        except httpx.HTTPError as exc:
            raise AssistantUnavailable(f"the assistant did not answer: {exc!r}") from exc
        if response.status_code == 401:
            raise TokenRefused("the assistant refused the token")
        if response.status_code != 200:
            raise AssistantUnavailable(f"the assistant answered {response.status_code}")
        body = response.json()
        replies = [Reply(**reply) for reply in body.get("replies", [])]
        # A turn whose token had expired gets "please sign in again" and no conversation.
        if not body.get("conversation"):
            raise TokenRefused("the assistant asked for a new sign-in")
        return AssistantTurn(body["conversation"], bool(body.get("public")), replies)


def _request_id_header() -> Dict[str, str]:
    """The id this Slack message is logged under (`converse`), for the bridge to keep."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}
