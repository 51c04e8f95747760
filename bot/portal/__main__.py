"""Serve the demo portal on PORTAL_PORT: `python -m bot.portal` (`make run` starts it)."""

from __future__ import annotations

import sys

import uvicorn

from bot.portal.app import create_app
from bot.settings import SettingsError, load_settings


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.portal_port,
        log_level="warning",
        ws="none",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
