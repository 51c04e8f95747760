"""The action server: rasa-sdk's app, answering only the Rasa server (`python -m bot actions`).

rasa-sdk's own entry point (`python -m rasa_sdk`) binds 0.0.0.0 and answers anyone:
`GET /actions` lists every action and a crafted tracker posted to `/webhook` runs
any of them. This entry point builds the same app (`rasa_sdk.endpoint.create_app`,
so the actions, the executor and the routes are rasa-sdk's), refuses every call
that does not carry the shared secret, and serves it on the configured host
(loopback by default).

The secret (`ACTIONS_SECRET`) comes from the settings, never from the command line;
the Rasa server sends it as `Authorization: Bearer <secret>` with every action call
(`bot.assistant.serve`). `/health` stays open: it says only "ok", and the process
runner and the tests wait on it.

Each action call runs under the request id of the message it answers (the metadata's
`request_id`, `bot.observability`): the action's log lines and its calls to the account
services carry it, and one line per call says which action answered how, in how long.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import zlib
from typing import Any, Dict, Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import BaseHTTPResponse, HTTPResponse

from bot.chat.metadata import ChatMetadata
from bot.observability import accept_request_id, configure_logging, set_request_id
from bot.settings import Settings

logger = logging.getLogger(__name__)

ACTIONS_PACKAGE = "actions"
OPEN_PATHS = frozenset({"/health"})


def require_secret(app: Sanic, secret: str) -> None:
    """Refuse (401, empty body) every request but `OPEN_PATHS` without `Bearer <secret>`.

    The comparison takes the same time wherever the given value differs from the
    expected one (`hmac.compare_digest`), so the secret cannot be guessed byte by byte.
    """
    expected = f"Bearer {secret}".encode()

    async def check(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if hmac.compare_digest(given, expected):
            return None
        return response.empty(status=401)

    # A request middleware runs before the route's handler; a response returned here ends
    # the request. (A CORS preflight is answered empty either way: no origin is allowed.)
    app.register_middleware(check, "request")


def follow_request_ids(app: Sanic) -> None:
    """Run each action call under its message's request id, and log one line for it.

    Registered after `require_secret`, so a refused call's body is never read here.
    """

    async def start(request: Request) -> None:
        if request.path != "/webhook":
            return
        call = _action_call(request)
        tracker = call.get("tracker")
        message = tracker.get("latest_message") if isinstance(tracker, dict) else None
        metadata = ChatMetadata.of(message if isinstance(message, dict) else {})
        # A message that came another way (Rasa's own API, a test) gets an id of its own.
        set_request_id(accept_request_id(metadata.request_id if metadata else None))
        request.ctx.action = str(call.get("next_action") or "unknown action")
        request.ctx.started = time.perf_counter()

    async def finish(request: Request, answer: BaseHTTPResponse) -> None:
        if not hasattr(request.ctx, "started"):
            return  # not an action call, or refused before it was read
        took = round((time.perf_counter() - request.ctx.started) * 1000, 1)
        logger.info(
            "%s answered %s in %.0f ms",
            request.ctx.action,
            answer.status,
            took,
            extra={
                "data": {"action": request.ctx.action, "status": answer.status, "duration_ms": took}
            },
        )
        # One connection from Rasa carries many calls: what runs next must not inherit this id.
        set_request_id(None)

    app.register_middleware(start, "request")
    app.register_middleware(finish, "response")


def _action_call(request: Request) -> Dict[str, Any]:
    """The call's JSON body (inflated when Rasa compressed it); {} when it is not one."""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            call = json.loads(zlib.decompress(request.body))
        else:
            call = request.json
    except Exception:  # Sanic's own error for a body that is not JSON; zlib's for bad data
        return {}
    return call if isinstance(call, dict) else {}


def create_app(settings: Settings) -> Sanic:
    """rasa-sdk's action server app, with the actions package and the secret check."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    # No browser ever calls the action server: no CORS origin at all (rasa-sdk defaults to "*").
    app = create_sdk_app(ACTIONS_PACKAGE, cors_origins=None)
    require_secret(app, settings.actions_secret)
    follow_request_ids(app)
    return app


def serve(settings: Settings) -> None:
    """Serve the action server on `ACTIONS_HOST:ACTIONS_PORT` until stopped.

    Logging, plugins and the worker count are set up as `python -m rasa_sdk` does.
    """
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    configure_logging(settings, "actions")  # after rasa-sdk's own: JSON lines in production
    app = create_app(settings)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info(
        "Action endpoint is up and running on http://%s:%s",
        settings.actions_host,
        settings.actions_port,
    )
    app.run(settings.actions_host, settings.actions_port, workers=utils.number_of_sanic_workers())
