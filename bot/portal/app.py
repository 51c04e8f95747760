"""The demo portal: the account home page of the signed-in person, with the chat widget.

The portal is a thin server in front of plain HTML/JS pages (no build step). It holds
the person's short-lived token in an HttpOnly cookie and reads everything from the
account services as that person: it never mints, stores or checks a token itself
(the services are the only issuer; a token they refuse signs the person out).

    GET  /                 the account home page (the sign-in page when signed out)
    GET  /sign-in          the demo people (refused in production mode)
    GET  /widget.js        the chat widget: one script, the Socket.IO client included
    GET  /api/session      the token (for the widget), its expiry, /me and the chat address
    POST /api/sign-in      {"email"}: demo sign-in through the services
    POST /api/sign-out
    POST /api/token        renew the token before it expires (POST /me/token)
    POST /api/switch       {"account"}: switch account (POST /me/switch-account)
    GET  /api/areas/{area} one area's tables (orders, invoices, devices, ...)

Every POST needs the `X-Portal: 1` header: a cross-site form cannot send it, so the
SameSite=Strict cookie is not the only guard against a forged request.
"""

from __future__ import annotations

import html
import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, constr

from bot.portal.areas import AREAS, table
from bot.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SOCKET_IO_CLIENT = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
COOKIE = "premier_portal"
CSRF_HEADER = "x-portal"


class SignIn(BaseModel):
    email: constr(min_length=3, max_length=254)  # type: ignore[valid-type]


class Switch(BaseModel):
    account: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


def widget_script() -> str:
    """The widget as one script: the Socket.IO client (from npm) followed by our code.

    Raises:
        RuntimeError: the npm packages are not installed (`make bootstrap` runs npm ci).
    """
    if not SOCKET_IO_CLIENT.exists():
        raise RuntimeError(
            f"{SOCKET_IO_CLIENT.relative_to(PROJECT_ROOT)} is missing: run `make bootstrap`"
        )
    client = SOCKET_IO_CLIENT.read_text(encoding="utf-8").replace("//# sourceMappingURL=", "//")
    ours = (STATIC / "widget.js").read_text(encoding="utf-8")
    return f"{client}\n;\n{ours}"


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(settings: Settings) -> FastAPI:
    """The portal app; it calls the account services at `settings.services_url`."""
    script = widget_script()
    secure_cookie = settings.portal_origin.startswith("https://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(base_url=settings.services_url, timeout=15) as client:
            app.state.services = client
            yield

    app = FastAPI(title="Premier demo portal", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def services(request: Request) -> httpx.AsyncClient:
        client: httpx.AsyncClient = request.app.state.services
        return client

    def token_of(request: Request) -> Optional[str]:
        return request.cookies.get(COOKIE) or None

    def with_token(reply: Response, token: str) -> Response:
        reply.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookie,
            path="/",
            max_age=settings.session_max_hours * 3600,
        )
        return reply

    async def as_person(
        request: Request, method: str, path: str, json: Any = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token_of(request)}"}
        if method == "POST":
            headers["Idempotency-Key"] = f"portal-{uuid.uuid4().hex}"
        return await services(request).request(method, path, headers=headers, json=json)

    def refused(answer: httpx.Response) -> JSONResponse:
        """The services' error as it is (its shape is one for every endpoint)."""
        try:
            body = answer.json()
        except ValueError:
            body = {"error": {"code": "unavailable", "message": "the services did not answer"}}
        reply = JSONResponse(body, status_code=answer.status_code)
        if answer.status_code == 401:
            reply.delete_cookie(COOKIE, path="/")
        return reply

    @app.middleware("http")
    async def guard_posts(request: Request, call_next: Any) -> Response:
        if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
            return _problem(403, "forbidden", f"send the {CSRF_HEADER} header")
        reply: Response = await call_next(request)
        reply.headers.setdefault("Cache-Control", "no-store")
        reply.headers.setdefault("X-Content-Type-Options", "nosniff")
        return reply

    @app.get("/health")
    async def health() -> Dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_model=None)
    async def home(request: Request) -> Response:
        if token_of(request) is None:
            return RedirectResponse("/sign-in", status_code=303)
        return FileResponse(STATIC / "home.html")

    @app.get("/sign-in", response_model=None)
    async def sign_in_page() -> Response:
        if settings.production:
            return Response("demo sign-in is off in production", status_code=404)
        return FileResponse(STATIC / "signin.html")

    @app.get("/visitor", response_model=None)
    async def visitor_page() -> Response:
        """A public page with the widget and no sign-in: what an anonymous visitor sees."""
        page = (STATIC / "visitor.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{CHAT_URL}}", html.escape(settings.chat_url)))

    @app.get("/widget.js")
    async def widget() -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8")

    @app.get("/api/config")
    async def config() -> Dict[str, str]:
        return {"chat_url": settings.chat_url}

    @app.get("/api/people", response_model=None)
    async def people(request: Request) -> Response:
        answer = await services(request).get("/demo/people")
        return JSONResponse(answer.json()) if answer.status_code == 200 else refused(answer)

    @app.post("/api/sign-in", response_model=None)
    async def sign_in(request: Request, body: SignIn) -> Response:
        answer = await services(request).post("/demo/sign-in", json={"email": body.email})
        if answer.status_code != 200:
            return refused(answer)
        return with_token(JSONResponse({"ok": True}), answer.json()["token"])

    @app.post("/api/sign-out")
    async def sign_out() -> Response:
        reply = JSONResponse({"ok": True})
        reply.delete_cookie(COOKIE, path="/")
        return reply

    @app.get("/api/session", response_model=None)
    async def session(request: Request) -> Response:
        token = token_of(request)
        if token is None:
            return _problem(401, "unauthorized", "not signed in")
        answer = await as_person(request, "GET", "/me")
        if answer.status_code != 200:
            return refused(answer)
        return JSONResponse({"token": token, "me": answer.json(), "chat_url": settings.chat_url})

    @app.post("/api/token", response_model=None)
    async def renew(request: Request) -> Response:
        answer = await as_person(request, "POST", "/me/token")
        if answer.status_code != 200:
            return refused(answer)
        body = answer.json()
        return with_token(JSONResponse(body), body["token"])

    @app.post("/api/switch", response_model=None)
    async def switch(request: Request, body: Switch) -> Response:
        answer = await as_person(
            request, "POST", "/me/switch-account", json={"account": body.account}
        )
        if answer.status_code != 200:
            return refused(answer)
        token = answer.json()["token"]
        me = await services(request).get("/me", headers={"Authorization": f"Bearer {token}"})
        if me.status_code != 200:
            return refused(me)
        return with_token(JSONResponse({"token": token, "me": me.json()}), token)

    @app.get("/api/areas/{area}", response_model=None)
    async def area(request: Request, area: str) -> Response:
        sections = AREAS.get(area)
        if sections is None:
            return _problem(404, "not_found", f"no area {area}")
        if token_of(request) is None:
            return _problem(401, "unauthorized", "not signed in")
        shown = []
        for section in sections:
            answer = await as_person(request, "GET", section.path)
            if answer.status_code == 401:
                return refused(answer)
            if answer.status_code != 200:
                error = answer.json().get("error", {}) if answer.content else {}
                shown.append(
                    {"name": section.name, "refused": error.get("reason") or error.get("code")}
                )
                continue
            shown.append(table(section, answer.json()))
        return JSONResponse({"area": area, "sections": shown})

    return app
