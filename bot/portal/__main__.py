"""Serve the demo portal on PORTAL_PORT: `python -m bot.portal` (`make run` starts it)."""

from __future__ import annotations

import sys

import uvicorn

from bot.observability import configure_logging
from bot.portal.app import create_app
from bot.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.portal_port,
        log_level="warning",
        ws="none",
    )
    configure_logging(settings, "portal")  # after uvicorn's own (its Config sets it up)
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3  # as uvicorn.run: 3 when the server could not start


if __name__ == "__main__":
    sys.exit(main())
