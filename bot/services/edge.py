"""What every answer of the services gets at the edge, before any route runs or after it answers.

- `HeaderLimit`: a request's headers take at most `MAX_HEADER_BYTES` (431 over it). The
  server (h11, `python -m bot services`) already refuses a head it cannot parse within
  about one read; this makes the bound exact and the same as the chat server's.
- `NoStore`: personal data and files are never kept by a browser or a proxy cache.
- `AddressRateLimit`: a caller without a token (public endpoints, download links
  followed in a browser) is limited by address; a caller with one is limited as a
  person once the token is verified (`context.get_principal`), so the action
  server, which calls for everyone from one address, is never throttled as one.
- `RequestLog`: each request runs under the caller's `X-Request-ID` (or a new id), which
  its answer carries back, and leaves one access line: method, path, status, duration.
  Never a header or the query string; the health probes, polled all day, leave none.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.observability import REQUEST_ID_HEADER, accept_request_id, request_scope
from bot.ratelimit import CallerLimits, RateLimited
from bot.services.errors import HeadersTooLarge, TooManyRequests
from bot.settings import MAX_HEADER_BYTES

# The runner and the balancer poll these; they say nothing about anyone.
UNLIMITED_PATHS = frozenset({"/health", "/health/ready"})
access_log = logging.getLogger("bot.services.access")


class HeaderLimit:
    """Refuse (431) a request whose header names and values add up to over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_HEADER_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope.get("headers") or [])
            if size > self.limit:
                error = HeadersTooLarge(f"the request headers are over {self.limit // 1024} KiB")
                await error.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


class NoStore:
    """Add `Cache-Control: no-store` to every response that does not set its own."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


class AddressRateLimit:
    """Refuse (429, `Retry-After`) a caller without a token over its address's budget."""

    def __init__(self, app: ASGIApp, limits: CallerLimits):
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in UNLIMITED_PATHS:
            has_token = any(name == b"authorization" for name, _ in scope.get("headers") or [])
            if not has_token:
                client = scope.get("client")
                try:
                    self.limits.check_address(client[0] if client else None)
                except RateLimited as over:
                    await TooManyRequests(over.retry_after).response()(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class RequestLog:
    """Run each request under its request id, answer with it, and log one access line.

    Outermost, so that a refusal at the edge (431, 429, 413) is logged and answered with
    the id too. The path is logged without its query string; a download link's token in
    it is masked by the log formatter (`bot.observability`), like any token.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = REQUEST_ID_HEADER.lower().encode()
        offered = next((v for k, v in scope.get("headers") or [] if k == header), None)
        request_id = accept_request_id(offered.decode("latin-1") if offered else None)
        status = 500  # unless the app answers: an exception escaped it

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*(message.get("headers") or []), (header, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        with request_scope(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if scope["path"] not in UNLIMITED_PATHS:
                    _log_access(scope["method"], scope["path"], status, started)


def _log_access(method: str, path: str, status: int, started: float) -> None:
    took = round((time.perf_counter() - started) * 1000, 1)
    access_log.info(
        "%s %s %s %.0f ms",
        method,
        path,
        status,
        took,
        extra={"data": {"method": method, "path": path, "status": status, "duration_ms": took}},
    )
