"""The agent console's page on the demo portal, against the real account services.

The page is for support agents: the portal asks the services who the cookie's person is,
sends a support agent to the console, tells anyone else it is for the support team, and
sends the signed-out to sign in. What the console does over its socket is driven in
Chromium by tests/e2e/test_desk.py.
"""

from __future__ import annotations

import json
import re
from typing import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.portal.app import COOKIE, DESK_AREAS, create_app, desk_columns
from bot.portal.areas import AREAS
from tests.conftest import free_port, settings_for_tests
from tests.portal.test_portal_app import signed_in

AGENT = "sam.agent@vendor.example"


@pytest.fixture
def portal(services) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = settings_for_tests(
        SERVICES_URL=services.base_url, CHAT_URL="http://chat.example:5005"
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080") as client:
        yield client


def test_a_support_agent_lands_on_the_desk_after_signing_in(portal, services):
    signed_in(portal, AGENT)
    home = portal.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/desk")
    desk = portal.get("/desk", follow_redirects=False)
    assert desk.status_code == 200
    assert desk.headers["content-type"].startswith("text/html")
    assert "<title>Support desk — Premier</title>" in desk.text
    assert desk.headers["cache-control"] == "no-store"


def test_the_desk_gets_the_agents_own_token_the_way_the_widget_does(portal, services):
    cookie = signed_in(portal, AGENT)
    session = portal.get("/api/session").json()
    assert session["token"] == cookie
    assert session["chat_url"] == "http://chat.example:5005"
    # The services take it as Sam, a support agent: the token the desk socket is opened with.
    me = httpx.get(
        f"{services.base_url}/me", headers={"Authorization": f"Bearer {cookie}"}, timeout=30
    ).json()
    assert (me["email"], me["role"], me["account"]) == (AGENT, "support_agent", None)


@pytest.mark.parametrize(
    "email", ["ben.buyer@acme.example", "diego.admin@globex.example", "eve.rep@vendor.example"]
)
def test_anyone_else_is_told_the_desk_is_for_the_support_team(portal, services, email):
    signed_in(portal, email)
    desk = portal.get("/desk", follow_redirects=False)
    assert desk.status_code == 403
    assert "<h1>This page is for the support team</h1>" in desk.text
    assert f"({email})" in desk.text
    assert '<a href="/">Go to your account home</a>' in desk.text
    assert "desk.js" not in desk.text, "nothing of the console is served"
    # Their own home page is where it always was.
    assert portal.get("/", follow_redirects=False).status_code == 200


def test_the_signed_out_are_sent_to_sign_in(portal, services):
    answer = portal.get("/desk", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/sign-in")
    # A token the services refuse (forged, expired, ended) is dropped on the way.
    portal.cookies.set(COOKIE, "not-a-token")
    refused = portal.get("/desk", follow_redirects=False)
    assert (refused.status_code, refused.headers["location"]) == (303, "/sign-in")
    assert refused.headers["set-cookie"].startswith(f'{COOKIE}=""; ')
    portal.cookies.clear()
    portal.cookies.set(COOKIE, "not-a-token")
    home = portal.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/sign-in")


def test_the_desk_says_so_when_the_services_do_not_answer():
    settings = settings_for_tests(SERVICES_URL=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080") as portal:
        portal.cookies.set(COOKIE, "a-token-nobody-can-check-now")
        answer = portal.get("/desk", follow_redirects=False)
        assert answer.status_code == 503
        assert "<h1>The support desk is not available</h1>" in answer.text
        # The cookie is kept: the services did not refuse it, they did not answer.
        assert "set-cookie" not in answer.headers


def test_the_page_has_landmarks_labels_and_a_live_region(portal, services):
    signed_in(portal, AGENT)
    page = portal.get("/desk").text
    assert '<html lang="en">' in page
    for landmark in ("<header", '<main id="main"', 'aria-labelledby="queue-title"'):
        assert landmark in page
    assert '<a class="skip" href="#main">' in page
    # Every field has its label; new messages are announced politely; errors as alerts.
    for field in ("reply-input", "close-note"):
        assert f'<label for="{field}"' in page
    assert re.search(r'id="announcer" aria-live="polite"', page)
    assert 'id="notice" role="alert"' in page
    assert 'role="tablist"' in page and 'role="tabpanel"' in page
    for outcome in ("resolved", "unresolved", "service_request_opened"):
        assert f'name="outcome" value="{outcome}"' in page
    assert '<dialog id="confirm-close"' in page


def test_the_console_script_is_served_by_the_portal_with_the_socket_client(portal, services):
    signed_in(portal, AGENT)
    page = portal.get("/desk").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == ["/desk.js"], "no CDN: the portal serves every script"
    script = portal.get("/desk.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert 'path: "/desk/socket.io"' in script.text
    assert "io(" in script.text and "sourceMappingURL" not in script.text
    assert portal.get("/static/desk.css").status_code == 200


def test_the_account_tables_use_the_portals_own_columns(portal, services):
    signed_in(portal, AGENT)
    page = portal.get("/desk").text
    found = re.search(
        r'<script type="application/json" id="desk-columns">(.*?)</script>', page, re.S
    )
    assert found, "the columns are in the page"
    columns = json.loads(found.group(1))
    assert list(columns) == list(DESK_AREAS)
    sections = {section.name: section for area in AREAS.values() for section in area}
    assert {name: shown["columns"] for name, shown in columns.items()} == {
        name: list(sections[name].columns) for name in DESK_AREAS
    }
    invoices = columns["invoices"]
    assert invoices["columns"][:2] == ["number", "status"]
    # Sam works in English: the headers and the statuses' names are the chat's English ones.
    assert invoices["labels"][:2] == ["Number", "Status"]
    assert invoices["words"]["status"]["unpaid"] == "unpaid"
    assert columns["service_requests"]["words"]["status"]["in_progress"] == "in progress"
    assert columns["devices"]["words"]["warranty_plan"]["prosupport_plus"] == "ProSupport Plus"


def test_a_spanish_speaking_agent_would_get_the_console_tables_in_spanish():
    # The demo world's only agent works in English; the page is made per language at start.
    columns = desk_columns("es")
    assert columns["orders"]["labels"][:4] == ["Número", "Fecha del pedido", "Canal", "Estado"]
    assert columns["invoices"]["words"]["status"]["overdue"] == "vencida"
    assert columns["devices"]["labels"][-1] == "Estado de la garantía"
