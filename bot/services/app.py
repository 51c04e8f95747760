"""The account services' ASGI app: routes, one error shape, request-size limit."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.observability import configure_logging
from bot.policy import load_table
from bot.ratelimit import CallerLimits
from bot.services.audit import AuditWriter
from bot.services.db import create_engine
from bot.services.edge import AddressRateLimit, HeaderLimit, NoStore, RequestLog
from bot.services.errors import PayloadTooLarge, ServiceError
from bot.services.routes import demo as demo_sign_in
from bot.services.routes import (
    devices,
    downloads,
    handoffs,
    invoices,
    me,
    orders,
    reports,
    support,
    users,
)
from bot.services.routes import settings as settings_area
from bot.services.routes import slack as slack_link
from bot.settings import Settings

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
PUBLIC_PATHS = ("/health", "/support-contacts", "/downloads/", "/openapi.json", "/docs")


class BodyLimit:
    """Refuse request bodies over `limit` bytes, whether or not Content-Length is sent.

    The body is read here first (at most `limit` bytes are ever buffered) and then
    handed to the app unchanged, so an oversized chunked upload gets a clean 413
    instead of surfacing as a parsing error inside the framework.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(self.limit)(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)


def _replay(messages: list[Message], then: Receive) -> Receive:
    """Hand out the buffered messages, then whatever the server sends next (a disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        PayloadTooLarge(f"the request body is over {limit // 1024} KiB").body(), status_code=413
    )


def _validation_message(exc: RequestValidationError) -> Dict[str, Any]:
    fields = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        fields.append({"field": where or "body", "problem": error.get("msg", "invalid")})
    summary = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    return {
        "error": {
            "code": "invalid_request",
            "message": f"invalid request: {summary}",
            "fields": fields,
        }
    }


def _openapi(app: FastAPI) -> Dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=app.description
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    for path, operations in schema["paths"].items():
        if not path.startswith(PUBLIC_PATHS):
            for operation in operations.values():
                operation["security"] = [{"bearer": []}]
    app.openapi_schema = schema
    return schema


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the audit writer with the app; at shutdown, write every row it still holds."""
    app.state.audit.start()
    try:
        yield
    finally:
        await asyncio.to_thread(app.state.audit.close)


def create_app(settings: Settings, engine: Optional[Engine] = None) -> FastAPI:
    """Build the app; the engine is created here unless a caller supplies one."""
    load_table()  # a malformed permission table stops the start, not a request
    settings.token_signing_key()  # so does a missing key pair
    settings.token_verification_key()
    app = FastAPI(
        title="Premier account services",
        version="1.0.0",
        description="System of record for the Premier account assistant. Every endpoint but "
        "the public ones needs `Authorization: Bearer <token>`; writes need an "
        "`Idempotency-Key` header.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or create_engine(settings.database_url)
    app.state.audit = AuditWriter(app.state.engine)
    app.state.limits = CallerLimits.per_minute(
        settings.services_rate_person, settings.services_rate_address
    )
    for module in (
        me,
        settings_area,
        users,
        orders,
        invoices,
        devices,
        support,
        handoffs,
        reports,
        downloads,
        demo_sign_in,
        slack_link,
    ):
        app.include_router(module.router)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_message(exc), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return JSONResponse(
            {"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code
        )

    @app.exception_handler(OperationalError)
    async def unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        log.exception("database unavailable", exc_info=exc)
        return JSONResponse(
            {
                "error": {
                    "code": "unavailable",
                    "message": "the account database is busy; try again",
                }
            },
            status_code=503,
        )

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.exception("database error; the request was rolled back", exc_info=exc)
        return JSONResponse(
            {"error": {"code": "internal", "message": "something went wrong; nothing was changed"}},
            status_code=500,
        )

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # Outermost last: the request id and the access line wrap everything; then headers are
    # measured, then the address's budget, then the body.
    app.add_middleware(BodyLimit)
    app.add_middleware(AddressRateLimit, limits=app.state.limits)
    app.add_middleware(HeaderLimit)
    app.add_middleware(NoStore)
    app.add_middleware(RequestLog)
    return app


def create_app_from_settings() -> FastAPI:
    """The app for the configured settings: what each uvicorn worker process builds.

    Each worker's entry point, so it sets up the worker's logging (`LOG_FORMAT`), after
    uvicorn has set up its own.
    """
    from bot.settings import load_settings

    settings = load_settings()
    configure_logging(settings, "services")
    return create_app(settings)
