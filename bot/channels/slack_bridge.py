"""The Slack app's way into the assistant: the conversation layer, with a thread.

A transport only, like the portal endpoint: the Slack app (its own process,
`bot/slack/`) has already verified Slack's signature and exchanged the Slack
link for the person's token at the services; here the layer verifies that
token, gives the Slack thread its own conversation (`slack:<user id>:<thread>`)
and runs the turn.

    POST /webhooks/slack_bridge/webhook
        Authorization: Bearer <the person's token>
        {"message": "...", "thread": "<channel>-<thread ts>"}
        -> {"conversation": "...", "public": false, "replies": [{"text", "buttons"?, "data"?}]}

`public` says whether the question may be answered in front of a whole Slack
channel: only when the permission table opens its capability to anyone (help,
greetings, support contacts). Everything else is account data, which the Slack
app answers to the asker alone.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import LayerChannel, domain_responses
from bot.channels.portal import NOT_SIGNED_IN
from bot.chat.identity import InvalidCredential
from bot.observability import REQUEST_ID_HEADER, accept_request_id
from bot.policy import load_table

log = logging.getLogger(__name__)


class SlackBridgeInput(LayerChannel):
    """`POST /webhooks/slack_bridge/webhook`: one Slack message as its person, in its thread."""

    @classmethod
    def name(cls) -> str:
        return "slack_bridge"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("slack_bridge_webhook", __name__)
        # Pushed messages reach Slack through the Slack app's own subscription
        # (bot/slack/relay.py); the layer is started for the handoff desk's side of a turn.
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
                    {"error": 'send JSON: {"message": "...", "thread": "..."}'}, 400
                )
            text, thread = body.get("message"), body.get("thread")
            if not isinstance(text, str) or not isinstance(thread, str):
                return response.json({"error": '"message" and "thread" must be strings'}, 400)
            authorization = request.headers.get("authorization")
            if not authorization:  # Slack has no anonymous visitors: the app always knows who
                return response.json({"error": NOT_SIGNED_IN}, 401)
            # The Slack app's id for this message: its log lines and ours carry the same one.
            request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
            said = {REQUEST_ID_HEADER: request_id}
            try:
                turn = await layer.handle(
                    channel="slack",
                    text=text,
                    on_new_message=on_new_message,
                    responses=domain_responses(request.app),
                    authorization=authorization,
                    thread=thread,
                    request_id=request_id,
                )
            except InvalidCredential:
                return response.json({"error": NOT_SIGNED_IN}, 401, headers=said)
            except ValueError as exc:  # a thread id the conversation rule refuses
                return response.json({"error": str(exc)}, 400, headers=said)
            return response.json(
                {
                    "conversation": turn.conversation,
                    "public": await _public_turn(request, turn.conversation),
                    "replies": [reply.as_json() for reply in turn.replies],
                },
                headers=said,
            )

        return hook


async def _public_turn(request: Request, conversation: str) -> bool:
    """Whether the turn answered a question anyone may ask (the permission table says so)."""
    processor = getattr(getattr(request.app.ctx, "agent", None), "processor", None)
    if not conversation or processor is None:
        return False
    tracker = await processor.get_tracker(conversation)
    message = tracker.latest_message
    intent = (message.intent or {}).get("name") if message else None
    table = load_table()
    return isinstance(intent, str) and intent in table and table.capability(intent).public
