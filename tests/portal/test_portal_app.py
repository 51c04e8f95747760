"""The demo portal's server against the real account services (SQLite and PostgreSQL).

The portal holds the person's token in an HttpOnly cookie, gets every token from the
services (sign-in, renewal, switch) and shows the services' own answers and refusals.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from actions import i18n
from bot import language as lang
from bot.portal.app import COOKIE, create_app
from bot.services.app import create_app as create_services
from tests.conftest import TEST_PRIVATE_KEY_FILE, TEST_PUBLIC_KEY_FILE, settings_for_tests

POST = {"X-Portal": "1"}
DESIGN_ORDER = [
    "ana.admin@acme.example",
    "ben.buyer@acme.example",
    "sara.shopper@acme.example",
    "diego.admin@globex.example",
    "lena.buyer@initech.example",
    "hannah@home.example",
    "eve.rep@vendor.example",
    "sam.agent@vendor.example",
]


@pytest.fixture
def portal(services) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings = settings_for_tests(
        SERVICES_URL=services.base_url, CHAT_URL="http://chat.example:5005"
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8080") as client:
        yield client


def signed_in(portal: TestClient, email: str) -> str:
    answer = portal.post("/api/sign-in", json={"email": email}, headers=POST)
    assert answer.status_code == 200, answer.text
    return str(portal.cookies[COOKIE])


def me(services, token: str) -> dict:  # type: ignore[no-untyped-def]
    answer = httpx.get(
        f"{services.base_url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    answer.raise_for_status()
    return dict(answer.json())


def test_the_sign_in_page_lists_the_demo_people_with_their_accounts(portal, services):
    people = portal.get("/api/people").json()
    assert [p["email"] for p in people] == DESIGN_ORDER
    diego = people[3]
    assert [(a["name"], a["role"]) for a in diego["accounts"]] == [
        ("Globex México", "site_admin"),
        ("Acme Corporation", "buyer"),
    ]
    assert portal.get("/", follow_redirects=False).headers["location"] == "/sign-in"


def test_signing_in_keeps_the_services_token_in_a_strict_http_only_cookie(portal, services):
    answer = portal.post("/api/sign-in", json={"email": "Ben.Buyer@acme.example"}, headers=POST)
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    session = portal.get("/api/session").json()
    assert session["chat_url"] == "http://chat.example:5005"
    assert session["me"]["email"] == "ben.buyer@acme.example"
    # The token is the services' own: they accept it as Ben in Acme.
    assert me(services, session["token"])["account"]["name"] == "Acme Corporation"
    assert portal.get("/", follow_redirects=False).status_code == 200


def test_a_post_without_the_portal_header_or_for_a_stranger_signs_nobody_in(portal, services):
    refused = portal.post("/api/sign-in", json={"email": "ben.buyer@acme.example"})
    assert refused.status_code == 403 and COOKIE not in portal.cookies
    unknown = portal.post("/api/sign-in", json={"email": "mallory@evil.example"}, headers=POST)
    assert unknown.status_code == 404 and COOKIE not in portal.cookies
    assert portal.get("/api/session").status_code == 401


def test_the_areas_show_what_the_services_hold(portal, services):
    token = signed_in(portal, "ben.buyer@acme.example")
    invoices = portal.get("/api/areas/invoices").json()["sections"][0]
    held = httpx.get(
        f"{services.base_url}/invoices",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["invoices"]
    number = invoices["columns"].index("number")
    assert sorted(row[number] for row in invoices["rows"]) == sorted(i["number"] for i in held)
    # Amounts and days as the chat writes them for Ben (English, dollars).
    columns = invoices["columns"]
    shown = {row[number]: dict(zip(columns, row, strict=True)) for row in invoices["rows"]}
    for invoice in held:
        row = shown[invoice["number"]]
        cents, currency = invoice["amount"]["cents"], invoice["amount"]["currency"]
        assert row["amount"] == lang.money(cents, currency, "en")
        assert row["due_on"] == lang.day(dt.date.fromisoformat(invoice["due_on"]), "en")
    assert any(row["amount"].startswith("$") for row in shown.values())
    assert portal.get("/api/areas/nothing").status_code == 404


def held(services, token: str, path: str, at: str = "") -> list:  # type: ignore[no-untyped-def]
    """What the services hold at `path` for the token's person (the list at key `at`)."""
    answer = httpx.get(
        f"{services.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    answer.raise_for_status()
    return list(answer.json()[at] if at else answer.json())


def by_number(section: dict, column: str) -> dict:
    """A table's `column` by each row's number, as shown."""
    number, wanted = section["columns"].index("number"), section["columns"].index(column)
    return {row[number]: row[wanted] for row in section["rows"]}


def test_a_spanish_speakers_tables_are_in_spanish_with_the_chats_words(portal, services):
    token = signed_in(portal, "diego.admin@globex.example")
    orders = portal.get("/api/areas/orders").json()["sections"][0]
    assert orders["name"] == "orders"
    assert orders["columns"][:4] == ["number", "placed_at", "channel", "status"]
    assert orders["labels"] == [
        "Número",
        "Fecha del pedido",
        "Canal",
        "Estado",
        "Total",
        "Entrega estimada",
    ]
    stored = {o["number"]: o["status"] for o in held(services, token, "/orders")}
    assert {"shipped", "delivered"} <= set(stored.values()), "the demo world's Globex orders"
    assert by_number(orders, "status") == {n: i18n.status(s, "es") for n, s in stored.items()}
    assert {"enviado", "entregado"} <= set(by_number(orders, "status").values())

    invoices = portal.get("/api/areas/invoices").json()["sections"][0]
    assert invoices["labels"] == ["Número", "Estado", "Emitida", "Vence", "Importe", "Pedido"]
    stored = {
        i["number"]: i["status"] for i in held(services, token, "/invoices?status=all", "invoices")
    }
    shown = by_number(invoices, "status")
    assert shown == {n: i18n.status(s, "es") for n, s in stored.items()}
    assert "pagada" in shown.values() and not {"paid", "unpaid", "overdue"} & set(shown.values())


def test_an_english_speakers_tables_are_in_english(portal, services):
    token = signed_in(portal, "ana.admin@acme.example")
    orders = portal.get("/api/areas/orders").json()["sections"][0]
    assert orders["labels"] == [
        "Number",
        "Placed",
        "Channel",
        "Status",
        "Total",
        "Estimated delivery",
    ]
    stored = {o["number"]: o["status"] for o in held(services, token, "/orders")}
    assert by_number(orders, "status") == {n: i18n.status(s, "en") for n, s in stored.items()}
    devices = portal.get("/api/areas/devices").json()["sections"][0]
    assert devices["labels"][-1] == "Warranty status"
    statuses = {row[-1] for row in devices["rows"]}
    assert statuses and statuses <= {"active", "expired"}


@pytest.mark.parametrize(
    ("email", "area", "reason"),
    [
        ("sara.shopper@acme.example", "users", "role"),
        ("hannah@home.example", "invoices", "account_type"),
        ("lena.buyer@initech.example", "invoices", "account_setting"),
        ("diego.admin@globex.example", "subscriptions", "country"),
    ],
)
def test_an_area_the_person_may_not_use_shows_the_services_reason(
    portal, services, email, area, reason
):
    signed_in(portal, email)
    sections = portal.get(f"/api/areas/{area}").json()["sections"]
    assert sections[0]["refused"] == reason


def test_switching_account_gets_a_new_token_from_the_services(portal, services):
    first = signed_in(portal, "diego.admin@globex.example")
    switched = portal.post("/api/switch", json={"account": "Acme"}, headers=POST).json()
    assert switched["me"]["account"]["name"] == "Acme Corporation"
    assert switched["me"]["role"] == "buyer"
    assert portal.cookies[COOKIE] == switched["token"] != first
    assert me(services, switched["token"])["account"]["name"] == "Acme Corporation"
    other = portal.post("/api/switch", json={"account": "Initech"}, headers=POST)
    assert other.status_code == 404


def test_renewing_continues_the_session_with_a_fresh_token(portal, services):
    first = signed_in(portal, "ana.admin@acme.example")
    time.sleep(1.1)  # tokens carry whole seconds: one a second later is a different token
    renewed = portal.post("/api/token", headers=POST).json()
    assert renewed["token"] != first and portal.cookies[COOKIE] == renewed["token"]
    assert me(services, renewed["token"])["email"] == "ana.admin@acme.example"


def test_a_token_the_services_refuse_signs_the_person_out(portal, services):
    portal.cookies.set(COOKIE, "not-a-token")
    answer = portal.get("/api/session")
    assert answer.status_code == 401
    assert answer.headers["set-cookie"].startswith(f'{COOKIE}=""; ')
    assert "max-age=0" in answer.headers["set-cookie"].lower()


def test_the_widget_is_one_script_served_by_the_portal(portal):
    script = portal.get("/widget.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "window.PremierChat" in script.text and "io" in script.text
    assert "sourceMappingURL" not in script.text, "no request leaves for a file not served"
    visitor = portal.get("/visitor").text
    assert 'src="/widget.js" data-chat-url="http://chat.example:5005"' in visitor


def test_demo_sign_in_does_not_exist_in_production(services):
    production = settings_for_tests(
        APP_ENV="production",
        DATABASE_URL="postgresql+psycopg2://db.internal/premier",
        TRACKER_STORE_URL="postgresql+psycopg2://db.internal/tracker",
        REDIS_URL="redis://cache.internal:6379/0",
        TOKEN_PRIVATE_KEY_FILE=str(TEST_PRIVATE_KEY_FILE),
        TOKEN_PUBLIC_KEY_FILE=str(TEST_PUBLIC_KEY_FILE),
        SERVICES_URL=services.base_url,
    )
    with TestClient(create_services(production, engine=services.engine)) as api:
        assert api.get("/demo/people").status_code == 404
        assert (
            api.post("/demo/sign-in", json={"email": "ana.admin@acme.example"}).status_code == 404
        )
    with TestClient(create_app(production)) as page:
        assert page.get("/sign-in").status_code == 404
