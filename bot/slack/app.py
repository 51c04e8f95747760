"""The Slack app: built from the settings, served over HTTP at `/slack/events` (or Socket Mode).

bolt verifies every request's signature (`X-Slack-Signature` over the timestamp and
body, with the signing secret) and refuses unsigned, forged and stale (over five
minutes) ones with 401 before any listener runs. Then one middleware of ours drops
an event already acted on: Slack retries (`X-Slack-Retry-Num`) carry the same
`event_id`, so a retry is acknowledged and nothing more happens. Every listener
acknowledges at once and answers afterwards; bolt replies to Slack on the ack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.push import push_hub_from_url
from bot.client import AccountServices
from bot.observability import REQUEST_ID_HEADER, accept_request_id, configure_logging, request_scope
from bot.settings import Settings, SettingsError
from bot.slack.assistant import Assistant
from bot.slack.desk import Desk
from bot.slack.listeners import register_all
from bot.slack.memory import memory_from_url
from bot.slack.people import People
from bot.slack.relay import Relay
from bot.slack.texts import Texts
from bot.slack.tools import Tools

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def build_tools(settings: Settings) -> Tools:
    services = AccountServices(settings.services_url)
    people = People(services, settings.slack_service_secret)
    memory = memory_from_url(settings.redis_url)
    texts = Texts.load()
    # Only a hub across processes can reach this one: without Redis, nothing is pushed here.
    hub = push_hub_from_url(settings.redis_url) if settings.redis_url else None
    return Tools(
        services=services,
        people=people,
        assistant=Assistant(settings.rasa_url),
        memory=memory,
        texts=texts,
        relay=Relay(hub),
        desk=Desk(
            hub=hub,
            channel=settings.slack_support_channel,
            services=services,
            people=people,
            memory=memory,
            texts=texts,
            # The agent's heartbeat (a console page sends one every few seconds).
            heartbeat_seconds=settings.handoff_agent_grace_seconds / 3,
        ),
    )


def create_app(settings: Settings, tools: Tools) -> AsyncApp:
    """The bolt app with every listener registered; nothing is contacted until a request comes.

    Raises:
        SettingsError: the bot token or the signing secret is missing.
    """
    if not settings.slack_configured:
        raise SettingsError("the Slack app needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    client_options: Dict[str, Any] = {"token": settings.slack_bot_token}
    if settings.slack_api_url:
        client_options["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    app = AsyncApp(
        signing_secret=settings.slack_signing_secret,
        client=AsyncWebClient(**client_options),
        name="premier",
    )

    @app.middleware
    async def once_per_event(
        body: Dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> Optional[BoltResponse]:
        """A retried (or replayed) event is acknowledged and not acted on again."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await tools.memory.first(f"event:{event_id}"):
            return BoltResponse(status=200, body="")
        await next()
        return None

    register_all(app, tools)
    return app


def web_app(app: AsyncApp) -> web.Application:
    """`POST /slack/events` for Slack, `GET /health` for `make run` and the tests."""

    async def events(request: web.Request) -> web.Response:
        # nginx's $request_id, when it sent one, names every line this event's answer writes.
        with request_scope(accept_request_id(request.headers.get(REQUEST_ID_HEADER))):
            answer = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(answer)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    server = web.Application()
    server.router.add_post(EVENTS_PATH, events)
    server.router.add_get("/health", health)
    return server


async def _serve(settings: Settings) -> None:
    tools = build_tools(settings)
    app = create_app(settings, tools)
    await tools.relay.start(app.client, tools)
    await tools.desk.start(app.client)
    runner = web.AppRunner(web_app(app), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.slack_port).start()
    socket_mode = None
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_mode = AsyncSocketModeHandler(app, settings.slack_app_token)
            await socket_mode.connect_async()
            log.info("the Slack app is connected in Socket Mode")
        await asyncio.Event().wait()  # until the process is stopped
    finally:
        if socket_mode is not None:
            await socket_mode.close_async()
        await runner.cleanup()
        await tools.close()


def serve(settings: Settings) -> None:
    """Run the Slack app until stopped (`python -m bot.slack`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    configure_logging(settings, "slack")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C / `make run` stopping: a clean end
        asyncio.run(_serve(settings))
