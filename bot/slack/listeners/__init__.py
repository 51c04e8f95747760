"""Bolt listeners, one module per kind; each has `register(app, tools)`.

bolt runs the first listener that matches: the desk's thread messages come before the
assistant's.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.listeners import buttons, commands, desk, home, messages
from bot.slack.tools import Tools

KINDS = (desk, messages, commands, buttons, home)


def register_all(app: AsyncApp, tools: Tools) -> None:
    for kind in KINDS:
        kind.register(app, tools)
