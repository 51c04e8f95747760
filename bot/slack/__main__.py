"""`python -m bot.slack`: serve the Slack app (it reads its settings itself: no secret in `ps`)."""

from __future__ import annotations

import sys

from bot.settings import SettingsError, load_settings
from bot.slack import NOT_CONFIGURED


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if not settings.slack_configured:
        print(NOT_CONFIGURED, file=sys.stderr)
        return 2
    from bot.slack.app import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
