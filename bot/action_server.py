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
"""

from __future__ import annotations

import hmac
import logging
from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

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


def create_app(settings: Settings) -> Sanic:
    """rasa-sdk's action server app, with the actions package and the secret check."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    # No browser ever calls the action server: no CORS origin at all (rasa-sdk defaults to "*").
    app = create_sdk_app(ACTIONS_PACKAGE, cors_origins=None)
    require_secret(app, settings.actions_secret)
    return app


def serve(settings: Settings) -> None:
    """Serve the action server on `ACTIONS_HOST:ACTIONS_PORT` until stopped.

    Logging, plugins and the worker count are set up as `python -m rasa_sdk` does.
    """
    from rasa_sdk import utils
    from rasa_sdk.plugin import plugin_manager

    utils.configure_colored_logging(logging.INFO)
    utils.update_sanic_log_level()
    app = create_app(settings)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    logger.info(
        "Action endpoint is up and running on http://%s:%s",
        settings.actions_host,
        settings.actions_port,
    )
    app.run(settings.actions_host, settings.actions_port, workers=utils.number_of_sanic_workers())
