"""The demo portal: the account home page of the signed-in person, with the chat widget.

The portal is a thin server in front of plain HTML/JS pages (no build step). It holds
the person's short-lived token in an HttpOnly cookie and reads everything from the
account services as that person: it never mints, stores or checks a token itself
(the services are the only issuer; a token they refuse signs the person out).

    GET  /                 the account home page (the sign-in page when signed out; the
                           agent console for a support agent)
    GET  /desk             the agent console of the handoff desk (support agents only)
    GET  /sign-in          the demo people (refused in production mode)
    GET  /widget.js        the chat widget: one script, the Socket.IO client included
    GET  /desk.js          the agent console's script, the Socket.IO client included
    GET  /api/session      the token (for the widget), its expiry, /me and the chat address
    POST /api/sign-in      {"email"}: demo sign-in through the services
    POST /api/sign-out
    POST /api/token        renew the token before it expires (POST /me/token)
    POST /api/switch       {"account"}: switch account (POST /me/switch-account)
    GET  /api/areas/{area} one area's tables (orders, invoices, devices, ...), in the person's
                           language

Every POST needs the `X-Portal: 1` header: a cross-site form cannot send it, so the
SameSite=Strict cookie is not the only guard against a forged request.
"""

from __future__ import annotations

import html
import json
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

from actions import i18n
from bot.observability import (
    REQUEST_ID_HEADER,
    accept_request_id,
    current_request_id,
    request_scope,
)
from bot.portal.areas import AREAS, labels, table, words
from bot.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SOCKET_IO_CLIENT = PROJECT_ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
COOKIE = "premier_portal"
CSRF_HEADER = "x-portal"
# The role the agent console is for (the desk socket on the Rasa server refuses anyone else).
DESK_ROLE = "support_agent"
# The account areas an agent reads through the handoff's grant: the desk socket's `account`
# areas, each shown with the columns of the portal's own section of that name.
DESK_AREAS = ("orders", "invoices", "devices", "contracts", "service_requests")


class SignIn(BaseModel):
    email: constr(min_length=3, max_length=254)  # type: ignore[valid-type]


class Switch(BaseModel):
    account: constr(min_length=1, max_length=200)  # type: ignore[valid-type]


def socket_script(name: str = "widget.js") -> str:
    """One of our scripts as one file: the Socket.IO client (from npm) followed by our code.

    Raises:
        RuntimeError: the npm packages are not installed (`make bootstrap` runs npm ci).
    """
    if not SOCKET_IO_CLIENT.exists():
        raise RuntimeError(
            f"{SOCKET_IO_CLIENT.relative_to(PROJECT_ROOT)} is missing: run `make bootstrap`"
        )
    client = SOCKET_IO_CLIENT.read_text(encoding="utf-8").replace("//# sourceMappingURL=", "//")
    ours = (STATIC / name).read_text(encoding="utf-8")
    return f"{client}\n;\n{ours}"


def desk_columns(language: str) -> Dict[str, Dict[str, Any]]:
    """What the console shows of each account area, with the portal's sections' own columns.

    The console gets its rows from the desk socket as the services store them, so each area
    carries its columns (the services' keys), their headers in the agent's language and the
    names of the codes its columns hold (statuses, plans), as the portal's own tables show them.
    """
    sections = {section.name: section for area in AREAS.values() for section in area}
    return {
        name: {
            "columns": list(sections[name].columns),
            "labels": labels(sections[name], language),
            "words": words(sections[name], language),
        }
        for name in DESK_AREAS
    }


def desk_page(language: str) -> str:
    """The agent console's page, its tables' columns in the agent's language."""
    columns = json.dumps(desk_columns(language))
    # JSON inside a <script> element: "</" could end it, so it is written as "<\/".
    return (
        (STATIC / "desk.html")
        .read_text(encoding="utf-8")
        .replace("{{DESK_COLUMNS}}", columns.replace("</", "<\\/"))
    )


def notice_page(title: str, paragraphs: str) -> str:
    """A small page of the portal's look that says one thing (`paragraphs` is HTML)."""
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <title>{html.escape(title)} — Premier</title>
  <link rel="stylesheet" href="/static/portal.css">
</head>
<body>
  <header class="brand-bar"><p class="brand">Premier</p></header>
  <main class="signin" id="main">
    <h1>{html.escape(title)}</h1>
    {paragraphs}
  </main>
</body>
</html>
"""


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _with_request_id(request: httpx.Request) -> None:
    """Each call to the services carries the page request's id, so their lines join it."""
    request_id = current_request_id()
    if request_id is not None:
        request.headers[REQUEST_ID_HEADER] = request_id


def create_app(settings: Settings) -> FastAPI:
    """The portal app; it calls the account services at `settings.services_url`."""
    script = socket_script("widget.js")
    desk_script = socket_script("desk.js")
    desk_pages = {language: desk_page(language) for language in i18n.LANGUAGES}
    secure_cookie = settings.portal_origin.startswith("https://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(
            base_url=settings.services_url, timeout=15, event_hooks={"request": [_with_request_id]}
        ) as client:
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
        request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
        with request_scope(request_id):
            if request.method == "POST" and request.headers.get(CSRF_HEADER) != "1":
                reply: Response = _problem(403, "forbidden", f"send the {CSRF_HEADER} header")
            else:
                reply = await call_next(request)
        reply.headers.setdefault("Cache-Control", "no-store")
        reply.headers.setdefault("X-Content-Type-Options", "nosniff")
        reply.headers[REQUEST_ID_HEADER] = request_id
        return reply

    @app.get("/health")
    async def health() -> Dict[str, str]:
        return {"status": "ok"}

    class SignedOut(Exception):
        """No token, or one the services refuse."""

    async def signed_in_person(request: Request) -> Optional[Dict[str, Any]]:
        """The signed-in person (`/me`); None when the services cannot say who it is now.

        Raises:
            SignedOut: no token, or the services refuse it.
        """
        if token_of(request) is None:
            raise SignedOut
        try:
            answer = await as_person(request, "GET", "/me")
        except httpx.HTTPError:
            log.warning("portal: the account services did not answer /me", exc_info=True)
            return None
        if answer.status_code == 401:
            raise SignedOut
        if answer.status_code != 200:
            return None
        person: Dict[str, Any] = answer.json()
        return person

    def to_sign_in() -> Response:
        reply = RedirectResponse("/sign-in", status_code=303)
        reply.delete_cookie(COOKIE, path="/")
        return reply

    @app.get("/", response_model=None)
    async def home(request: Request) -> Response:
        try:
            person = await signed_in_person(request)
        except SignedOut:
            return to_sign_in()
        if person is not None and person.get("role") == DESK_ROLE:
            return RedirectResponse("/desk", status_code=303)
        # (When the services are down the page itself says so, as it always has.)
        return FileResponse(STATIC / "home.html")

    @app.get("/desk", response_model=None)
    async def desk(request: Request) -> Response:
        """The agent console; anyone else is told it is for the support team."""
        try:
            person = await signed_in_person(request)
        except SignedOut:
            return to_sign_in()
        if person is None:
            page = notice_page(
                "The support desk is not available",
                "<p>The portal cannot reach the account services right now. "
                "Reload the page in a moment.</p>",
            )
            return HTMLResponse(page, status_code=503, headers={"Retry-After": "5"})
        if person.get("role") != DESK_ROLE:
            who = html.escape(f"{person.get('name')} ({person.get('email')})")
            page = notice_page(
                "This page is for the support team",
                "<p>The support desk is where Premier support agents answer customers' "
                f"conversations. You are signed in as {who}, who is not a support agent.</p>"
                '<p><a href="/">Go to your account home</a></p>',
            )
            return HTMLResponse(page, status_code=403)
        return HTMLResponse(desk_pages.get(str(person.get("language")), desk_pages["en"]))

    @app.get("/desk.js")
    async def desk_js() -> Response:
        return Response(desk_script, media_type="text/javascript; charset=utf-8")

    @app.get("/sign-in", response_model=None)
    async def sign_in_page() -> Response:
        if settings.production:
            page = notice_page(
                "Demo sign-in is off",
                "<p>In production mode people sign in through the vendor's identity provider, "
                "which gives the portal their token; the demo people cannot be chosen here.</p>"
                '<p><a href="/visitor">Ask the assistant without signing in</a></p>',
            )
            return HTMLResponse(page, status_code=404)
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
        try:
            person = await signed_in_person(request)
        except SignedOut:
            reply = _problem(401, "unauthorized", "not signed in")
            reply.delete_cookie(COOKIE, path="/")
            return reply
        # The tables are in the person's language (their profile's, as the widget's is).
        language = str((person or {}).get("language") or "en")
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
            shown.append(table(section, answer.json(), language))
        return JSONResponse({"area": area, "sections": shown})

    return app
