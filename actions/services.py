"""The action server's handles on the outside world, built on first use inside its event loop:
the one client for the account services, and the token verifier (public key only)."""

from __future__ import annotations

from typing import Optional

from bot.chat.identity import Verifier
from bot.client import AccountServices
from bot.settings import load_settings

# How long a person's /me may be reused: see bot.client (the services still decide each call).
ME_TTL_SECONDS = 30.0

_services: Optional[AccountServices] = None
_verifier: Optional[Verifier] = None


def account_services() -> AccountServices:
    """The shared client (connection pool); created lazily inside the running event loop."""
    global _services
    if _services is None:
        settings = load_settings()
        _services = AccountServices(
            settings.services_url,
            me_ttl=ME_TTL_SECONDS,
            timeout=settings.services_timeout_ms / 1000,
        )
    return _services


def token_verifier() -> Verifier:
    """Checks the turn's token with the services' public key (the action server cannot mint)."""
    global _verifier
    if _verifier is None:
        settings = load_settings()
        _verifier = Verifier(settings.token_verification_key(), max_session=settings.session_max)
    return _verifier


def use_services(services: Optional[AccountServices], verifier: Optional[Verifier] = None) -> None:
    """Point the actions at another client and key (tests start their own services)."""
    global _services, _verifier
    _services = services
    _verifier = verifier
