"""The action server's one client for the account services, built on first use."""

from __future__ import annotations

from typing import Optional

from bot.client import AccountServices
from bot.settings import load_settings

_services: Optional[AccountServices] = None


def account_services() -> AccountServices:
    """The shared client (connection pool); created lazily inside the running event loop."""
    global _services
    if _services is None:
        _services = AccountServices(load_settings().services_url)
    return _services


def use_services(services: Optional[AccountServices]) -> None:
    """Point the actions at another client (tests start their own services)."""
    global _services
    _services = services
