"""What a user message carries from the channel to the actions: typed, versioned, no secrets kept.

Rasa stores a message's metadata with the message in the tracker store. Every
field here is safe to store except `credential` (the person's token for this
one turn, so the actions can call the services as the person): it is
*transient* - the tracker store removes it before anything is written (see
`bot.chat.tracker_store`), so a stored conversation never holds a token.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from pydantic import BaseModel, Extra, StrictInt, StrictStr

VERSION = 1
# Fields removed before a message is persisted or streamed anywhere.
TRANSIENT_FIELDS = ("credential",)


class ChatMetadata(BaseModel):
    """The metadata contract of every user message (version 1).

    Attributes:
        channel: the transport the message came through (portal, widget, slack, handoff).
        conversation: the conversation id the layer chose (`bot.chat.conversations`).
        user_id: the signed-in person; None for an anonymous visitor.
        account_id: the account the person's page/token is in (not a chat switch).
        language: the language of the token's person (their profile), when known.
        language_hint: the language the text itself is written in, when clear.
        thread: the Slack thread, for a conversation that is one.
        request_id: the id the turn is logged under in every part (`bot.observability`).
        credential: transient - the verified token, for this turn's calls to the services.
    """

    version: StrictInt = VERSION
    channel: StrictStr
    conversation: StrictStr
    user_id: Optional[StrictInt] = None
    account_id: Optional[StrictInt] = None
    language: Optional[StrictStr] = None
    language_hint: Optional[StrictStr] = None
    thread: Optional[StrictStr] = None
    request_id: Optional[StrictStr] = None
    credential: Optional[StrictStr] = None

    class Config:
        extra = Extra.ignore
        allow_mutation = False

    def to_message(self) -> Dict[str, Any]:
        """The dict the channel hands to Rasa with the message."""
        return self.dict(exclude_none=True)

    @classmethod
    def of(cls, message: Mapping[str, Any]) -> Optional[ChatMetadata]:
        """The contract from a message (Rasa's `latest_message`), or None if it has none."""
        raw = message.get("metadata")
        if not isinstance(raw, Mapping) or "channel" not in raw:
            return None
        try:
            return cls.parse_obj(raw)
        except ValueError:
            return None


def without_transient(metadata: Any) -> Any:
    """A copy of a metadata dict with the transient fields removed (other values unchanged)."""
    if not isinstance(metadata, Mapping):
        return metadata
    return {k: v for k, v in metadata.items() if k not in TRANSIENT_FIELDS}
