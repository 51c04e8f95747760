"""The portal's chat channel: Rasa's REST shape plus `Authorization: Bearer <token>`.

A transport only: identity, the conversation, the metadata and the
"please sign in again" reply come from the conversation layer (`bot.chat`).

    POST /webhooks/portal/webhook   {"sender"?, "message", "message_id"?} -> [{"recipient_id",
                                    "text", "buttons"?, "data"?}, ...]
    GET  /webhooks/portal/events    server-sent events: messages pushed into the
                                    caller's conversation later (an agent, a notice)

`message_id` (optional, 8-64 letters, digits, "-" or "_") makes sending a message again
safe: a message the conversation already holds under that id is answered from what it
was answered then, not processed again (bot.chat.layer.answered_before).

Every answer of the webhook carries `X-Request-ID`: the caller's when well-formed (nginx
sends its `$request_id`), else a new one. The turn's log lines in every part carry it too
(`bot.observability`).

`sender` is only used by anonymous visitors, to continue the conversation id
the server gave them (it comes back as `recipient_id`); a signed-in person's
conversation always follows from their token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import LayerChannel, domain_responses
from bot.chat.identity import InvalidCredential, SessionExpired
from bot.chat.layer import MESSAGE_ID
from bot.observability import REQUEST_ID_HEADER, accept_request_id
from bot.ratelimit import RateLimited

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
NOT_SIGNED_IN = "not signed in or the token is not valid"


class PortalInput(LayerChannel):
    """`POST /webhooks/portal/webhook` with {"sender", "message"} and a bearer token."""

    @classmethod
    def name(cls) -> str:
        return "portal"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("portal_webhook", __name__)
        layer = self.layer

        @hook.listener("before_server_start")
        async def start_layer(*_: Any) -> None:
            await layer.start()

        @hook.listener("after_server_stop")
        async def stop_layer(*_: Any) -> None:
            await layer.close()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except Exception:  # Sanic raises its own error for a body that is not JSON
                body = None
            if not isinstance(body, dict):
                return response.json(
                    {"error": 'send JSON: {"sender": "...", "message": "..."}'}, 400
                )
            text = body.get("message")
            if not isinstance(text, str):
                return response.json({"error": '"message" must be a string'}, 400)
            sender = body.get("sender")
            message_id = body.get("message_id")
            if message_id is not None and not (
                isinstance(message_id, str) and MESSAGE_ID.match(message_id)
            ):
                return response.json(
                    {"error": '"message_id" must be 8-64 letters, digits, "-" or "_"'}, 400
                )
            # The caller's id (nginx's $request_id) or a new one; every answer says which.
            request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
            said = {REQUEST_ID_HEADER: request_id}
            try:
                turn = await layer.handle(
                    channel="portal",
                    text=text,
                    on_new_message=on_new_message,
                    responses=domain_responses(request.app),
                    authorization=request.headers.get("authorization"),
                    anonymous_id=sender if isinstance(sender, str) else None,
                    address=request.remote_addr or request.ip,
                    message_id=message_id,
                    tracker_store=request.app.ctx.agent.tracker_store,
                    request_id=request_id,
                )
            except InvalidCredential:
                return response.json({"error": NOT_SIGNED_IN}, 401, headers=said)
            except RateLimited as over:
                return response.json(
                    {"error": f"too many messages; try again in {over.retry_after} s"},
                    429,
                    headers={"Retry-After": str(over.retry_after), **said},
                )
            # The replies are personal data: no browser or proxy cache keeps them.
            return response.json(
                layer.push_payload(turn.conversation, turn.replies),
                headers={"Cache-Control": "no-store", **said},
            )

        @hook.route("/events", methods=["GET"])
        async def events(request: Request) -> Optional[HTTPResponse]:
            try:
                identity = layer.verifier.from_authorization(
                    request.headers.get("authorization"), "portal"
                )
            except SessionExpired:
                return response.json({"error": "the session has expired; sign in again"}, 401)
            except InvalidCredential:
                return response.json({"error": NOT_SIGNED_IN}, 401)
            if identity is None:
                return response.json({"error": NOT_SIGNED_IN}, 401)
            conversation = layer.conversation_of(identity)
            stream = await request.respond(
                content_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
            # The stream ends when the token does: the client reconnects with a fresh one.
            ends = identity.expires_at
            async with layer.push.subscribe(conversation) as messages:
                await stream.send(f"event: ready\ndata: {json.dumps(conversation)}\n\n")
                while dt.datetime.now(dt.timezone.utc) < ends:
                    left = (ends - dt.datetime.now(dt.timezone.utc)).total_seconds()
                    try:
                        message = await asyncio.wait_for(
                            messages.__anext__(), timeout=max(0.1, min(HEARTBEAT_SECONDS, left))
                        )
                    except asyncio.TimeoutError:
                        await stream.send(": keep-alive\n\n")
                        continue
                    except StopAsyncIteration:
                        break
                    payload = {
                        "id": message.id,
                        "kind": message.kind,
                        "recipient_id": conversation,
                        **message.reply,
                    }
                    await stream.send(
                        f"id: {message.id}\nevent: message\ndata: {json.dumps(payload)}\n\n"
                    )
            await stream.eof()
            return None

        return hook
