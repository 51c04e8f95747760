"""Rasa input channels: transports onto the conversation layer (`bot.chat`), nothing more."""

from __future__ import annotations

from typing import Any, Dict, Optional

from rasa.core.channels.channel import InputChannel

from bot.chat.layer import ChatLayer
from bot.settings import load_settings


class LayerChannel(InputChannel):
    """A channel that hands every message to the conversation layer it is given."""

    def __init__(self, layer: ChatLayer):
        self.layer = layer

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        # Keys and secrets come from the one settings object, never from credentials.yml.
        return cls(ChatLayer.shared(load_settings()))


def domain_responses(app: Any) -> Dict[str, Any]:
    """The loaded model's responses, for the replies a channel gives without the assistant
    ("please sign in again"): their wording comes from the domain too. Empty before a model
    is loaded."""
    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return dict(getattr(getattr(agent, "domain", None), "responses", None) or {})
