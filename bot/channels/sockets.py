"""What the Rasa server's Socket.IO channels share: the server and how it joins the app.

The widget's socket and the agent console's socket are built the same way: allowed only from
the portal's origins (and WIDGET_ORIGINS), frames bounded, rooms shared through Redis when
several Rasa processes serve one address (REDIS_URL), attached to the Sanic app at their path.
"""

from __future__ import annotations

from typing import Any, Dict

import socketio
from sanic import Blueprint, Sanic

from bot.settings import Settings

# Engine.IO closes a connection whose frame is bigger than this (a message is 2000 characters).
MAX_FRAME_BYTES = 32 * 1024


def socket_server(settings: Settings, name: str) -> socketio.AsyncServer:
    """A Socket.IO server for the Rasa server's Sanic app; `name` keys its Redis channel."""
    manager = (
        socketio.AsyncRedisManager(settings.redis_url, channel=f"premier:{name}")
        if settings.redis_url
        else None
    )
    return socketio.AsyncServer(
        async_mode="sanic",
        client_manager=manager,
        cors_allowed_origins=list(settings.widget_origins),
        max_http_buffer_size=MAX_FRAME_BYTES,
        # The Sanic app already has CORS handling of its own for HTTP routes.
        cors_credentials=False,
    )


class SocketBlueprint(Blueprint):
    """A channel's blueprint that attaches its Socket.IO server at `path` to the app it joins."""

    def __init__(self, sio: socketio.AsyncServer, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctx.sio, self.ctx.path = sio, path

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        self.ctx.sio.attach(app, self.ctx.path)
        super().register(app, options)
