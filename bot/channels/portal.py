"""The portal's chat channel: Rasa's REST shape plus `Authorization: Bearer <token>`.

The token is verified on every message. The conversation id comes from the
verified identity, so nobody can write into another person's conversation by
choosing a sender id; without a token the conversation is anonymous and kept
apart from every signed-in one. The token travels to the actions in the
message metadata, and the actions call the services with it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import tokens
from bot.language import detect_language
from bot.settings import load_settings

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 2000
SIGN_IN_AGAIN = {
    "en": "Your session has expired. Please sign in to the portal again, then ask me again.",
    "es": "Tu sesión ha caducado. Vuelve a iniciar sesión en el portal y pregúntame de nuevo.",
}


def conversation_id(identity: Optional[tokens.Identity], sender: str) -> str:
    """One conversation per signed-in person; anonymous ones are namespaced apart."""
    if identity is not None:
        return f"user-{identity.user_id}"
    digest = hashlib.sha256(sender.encode("utf-8", "replace")).hexdigest()[:24]
    return f"anon-{digest}"


class PortalInput(InputChannel):
    """`POST /webhooks/portal/webhook` with {"sender", "message"} and a bearer token."""

    def __init__(self, token_secret: str):
        self.token_secret = token_secret

    @classmethod
    def name(cls) -> str:
        return "portal"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        # Secrets come from the one settings object, never from credentials.yml.
        return cls(load_settings().token_secret)

    def _identity(self, request: Request) -> Optional[tokens.Identity]:
        header = request.headers.get("authorization", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise tokens.TokenInvalid("the Authorization header must be 'Bearer <token>'")
        return tokens.verify_token(self.token_secret, token.strip())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("portal_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else None
            if body is None:
                return response.json(
                    {"error": 'send JSON: {"sender": "...", "message": "..."}'}, 400
                )
            text = body.get("message")
            sender = str(body.get("sender") or "anonymous")[:200]
            if not isinstance(text, str):
                return response.json({"error": '"message" must be a string'}, 400)
            try:
                identity = self._identity(request)
            except tokens.TokenExpired:
                language = detect_language(text) or "en"
                return response.json([{"recipient_id": sender, "text": SIGN_IN_AGAIN[language]}])
            except tokens.TokenInvalid as exc:
                return response.json({"error": str(exc)}, 401)
            token = request.headers["authorization"].partition(" ")[2].strip() if identity else None
            metadata = {
                "token": token,
                "channel": "portal",
                "language_hint": detect_language(text),
            }
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text[:MAX_MESSAGE_CHARS],
                    collector,
                    conversation_id(identity, sender),
                    input_channel=self.name(),
                    metadata=metadata,
                )
            )
            return response.json(collector.messages)

        return hook
