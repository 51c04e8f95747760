"""Signed, expiring download links: invoice PDFs, document PDFs and report CSVs.

A link is asked for with a bearer token and followed without one (a browser can
open it). It must serve the right file, refuse a tampered or expired link with
401, and never serve another account's object, whatever id a link names.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import time
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import jwt
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from bot.services import downloads
from bot.services import models as m
from bot.settings import load_settings
from tests.conftest import TEST_DOWNLOAD_SECRET, service_env

ADMIN = "ana.admin@acme.example"
GLOBEX_ADMIN = "diego.admin@globex.example"
ACME = "Acme Corporation"
GLOBEX = "Globex México"
HEADERS = {
    "order_history": ["order_number", "placed_on", "status", "channel", "total", "currency"],
    "purchase_history": [
        "order_number",
        "placed_on",
        "sku",
        "description",
        "quantity",
        "unit_price",
        "line_total",
        "currency",
    ],
    "spend": ["month", "orders", "spend", "currency"],
}


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def ana(services) -> Iterator[httpx.Client]:
    with services.client(ADMIN) as client:
        yield client


@pytest.fixture
def browser(services) -> Iterator[httpx.Client]:
    """Follows links with no Authorization header at all."""
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture
def reports_made(services) -> Iterator[List[int]]:
    """Ids of the reports a test generated; deleted afterwards."""
    ids: List[int] = []
    yield ids
    if ids:
        with Session(services.engine) as session, session.begin():
            session.execute(delete(m.Report).where(m.Report.id.in_(ids)))


def key() -> Dict[str, str]:
    return {"Idempotency-Key": f"downloads-{uuid.uuid4().hex}"}


def settings_of(services: Any, **changes: Any) -> Any:
    """The running service's settings (read as it reads them: its environment over .env)."""
    port = int(services.base_url.rsplit(":", 1)[1])
    settings = load_settings(environ=service_env(services.database_url, port))
    assert settings.services_url == services.base_url
    assert settings.download_secret == TEST_DOWNLOAD_SECRET
    return dataclasses.replace(settings, **changes)


def object_id(services: Any, model: type, **where: Any) -> int:
    with Session(services.engine) as session:
        found = session.scalar(select(model.id).filter_by(**where))  # type: ignore[attr-defined]
        assert found is not None, where
        return int(found)


def token_of(url: str) -> str:
    return url.rsplit("/downloads/", 1)[1]


def assert_error(response: httpx.Response, status: int, code: str, *says: str) -> Dict[str, Any]:
    where = f"{response.request.url.path[:60]}: {response.text[:300]}"
    assert response.status_code == status, where
    assert response.headers["content-type"].startswith("application/json"), where
    error = response.json()["error"]
    assert error["code"] == code, where
    for fragment in says:
        assert fragment.lower() in error["message"].lower(), where
    return error


def assert_pdf(response: httpx.Response, filename: str) -> bytes:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    return response.content


def assert_fresh_link(link: Dict[str, Any], services: Any) -> None:
    assert link["url"].startswith(f"{services.base_url}/downloads/")
    ttl = dt.timedelta(minutes=settings_of(services).download_ttl_minutes)
    left = dt.datetime.fromisoformat(link["expires_at"]) - dt.datetime.now(dt.timezone.utc)
    assert ttl - dt.timedelta(minutes=2) < left <= ttl + dt.timedelta(seconds=5)


# --- links that work ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ["INV-10000001", "INV-10000005"], ids=["invoice of an order", "invoice for services"]
)
def test_invoice_pdf_link_works_without_a_bearer_token(services, ana, browser, number):
    answer = ana.get(f"/invoices/{number}/pdf")
    assert answer.status_code == 200, answer.text
    link = answer.json()
    assert link["filename"] == f"{number}.pdf"
    assert_fresh_link(link, services)

    pdf = assert_pdf(browser.get(link["url"]), f"{number}.pdf")
    assert len(pdf) > 500
    again = browser.get(link["url"], headers={"Authorization": "Bearer not-a-token"})
    assert_pdf(again, f"{number}.pdf")  # the link alone decides; a stray header is ignored


def test_document_pdf_link_works_without_a_bearer_token(services, ana, browser):
    documents = ana.get("/documents").json()
    assert documents
    for document in documents:
        answer = ana.get(f"/documents/{document['id']}/link")
        assert answer.status_code == 200, answer.text
        link = answer.json()
        assert link["filename"] == f"document-{document['id']}.pdf"
        assert_fresh_link(link, services)
        assert_pdf(browser.get(link["url"]), link["filename"])


def _expected_rows(services: Any, kind: str, start: dt.date, end: dt.date) -> List[List[str]]:
    """What the CSV must hold, computed here from the account's orders in the period."""
    with Session(services.engine) as session:
        account = session.scalar(select(m.Account).filter_by(name=ACME))
        orders = [
            o
            for o in session.scalars(
                select(m.Order)
                .filter_by(account_id=account.id)
                .options(selectinload(m.Order.lines))
                .order_by(m.Order.placed_at)
            )
            if start <= o.placed_at.date() <= end
        ]
        currency = account.currency
        money = lambda cents: f"{cents / 100:.2f}"  # noqa: E731
        total = lambda o: sum(li.quantity * li.unit_price_cents for li in o.lines)  # noqa: E731
        if kind == "order_history":
            return [
                [
                    o.number,
                    o.placed_at.date().isoformat(),
                    o.status,
                    o.channel,
                    money(total(o)),
                    currency,
                ]
                for o in orders
            ]
        kept = [o for o in orders if o.status != "cancelled"]
        if kind == "purchase_history":
            return [
                [
                    o.number,
                    o.placed_at.date().isoformat(),
                    li.sku,
                    li.description,
                    str(li.quantity),
                    money(li.unit_price_cents),
                    money(li.quantity * li.unit_price_cents),
                    currency,
                ]
                for o in kept
                for li in o.lines
            ]
        months: Dict[str, List[int]] = {}
        for o in kept:
            month = months.setdefault(o.placed_at.strftime("%Y-%m"), [0, 0])
            month[0] += 1
            month[1] += total(o)
        return [[k, str(v[0]), money(v[1]), currency] for k, v in sorted(months.items())]


PERIODS = {
    # Acme's orders were placed 6, 18, 25, 47, 95 and 160 (cancelled) days before the seed.
    "last 200 days": (200, 0),
    "10 to 100 days ago": (100, 10),
}


@pytest.mark.parametrize("period", list(PERIODS), ids=list(PERIODS))
@pytest.mark.parametrize("kind", list(HEADERS))
def test_report_csv_link_matches_the_accounts_orders(
    services, ana, browser, reports_made, kind, period
):
    today = dt.date.today()
    start, end = (today - dt.timedelta(days=d) for d in PERIODS[period])
    answer = ana.post(
        "/reports",
        headers=key(),
        json={"type": kind, "starts_on": start.isoformat(), "ends_on": end.isoformat()},
    )
    assert answer.status_code == 201, answer.text
    report = answer.json()
    reports_made.append(report["id"])
    filename = f"{kind}-{start.isoformat()}-{end.isoformat()}.csv"
    assert report["link"]["filename"] == filename
    assert_fresh_link(report["link"], services)

    response = browser.get(report["link"]["url"])
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == HEADERS[kind]
    expected = _expected_rows(services, kind, start, end)
    assert rows[1:] == expected
    assert report["rows"] == len(expected)
    assert expected, "the period should hold some of the account's orders"

    # the report again, with a fresh link to the same file
    again = ana.get(f"/reports/{report['id']}")
    assert again.status_code == 200
    assert browser.get(again.json()["link"]["url"]).content == response.content


# --- links that must not work ------------------------------------------------------------


def _tamper(token: str, segment: int) -> str:
    """Change one character in the middle of one of the JWT's three segments."""
    parts = token.split(".")
    middle = len(parts[segment]) // 2
    old = parts[segment][middle]
    parts[segment] = (
        parts[segment][:middle] + ("A" if old != "A" else "B") + parts[segment][middle + 1 :]
    )
    return ".".join(parts)


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "claims", "signature"])
def test_a_tampered_link_is_401(services, ana, browser, segment):
    url = ana.get("/invoices/INV-10000001/pdf").json()["url"]
    assert browser.get(url).status_code == 200
    tampered = _tamper(token_of(url), segment)
    assert tampered != token_of(url)
    response = browser.get(f"{services.base_url}/downloads/{tampered}")
    assert_error(response, 401, "unauthorized", "download link", "not valid")
    assert b"%PDF" not in response.content


@pytest.mark.parametrize("change", ["truncated", "extended", "garbage", "empty claims"])
def test_a_malformed_link_is_401(services, ana, browser, change):
    token = token_of(ana.get("/invoices/INV-10000001/pdf").json()["url"])
    bad = {
        "truncated": token[:-3],
        "extended": token + "x",
        "garbage": "not-a-link",
        "empty claims": jwt.encode({}, TEST_DOWNLOAD_SECRET, algorithm="HS256"),
    }[change]
    assert_error(
        browser.get(f"{services.base_url}/downloads/{bad}"), 401, "unauthorized", "not valid"
    )


def _claims(services: Any, kind: str = "invoice", **overrides: Any) -> Dict[str, Any]:
    claims = {
        "k": kind,
        "id": object_id(services, m.Invoice, number="INV-10000001"),
        "acct": services.account_id(ACME),
        "usr": services.user_id(ADMIN),
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "secret,claims,says",
    [
        ("another-secret-" + "w" * 32, {}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"k": "user"}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"acct": None}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"exp": None}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"id": "one"}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"usr": None}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"usr": True}, "not valid"),
        (TEST_DOWNLOAD_SECRET, {"id": 1.0}, "not valid"),
    ],
    ids=[
        "forged",
        "unknown kind",
        "no account",
        "no expiry",
        "id not a number",
        "for nobody",
        "person a boolean",
        "id a float",
    ],
)
def test_a_link_not_signed_as_the_service_signs_is_401(services, browser, secret, claims, says):
    token = jwt.encode(_claims(services, **claims), secret, algorithm="HS256")
    response = browser.get(f"{services.base_url}/downloads/{token}")
    assert_error(response, 401, "unauthorized", says)
    assert b"%PDF" not in response.content


def test_a_sign_in_token_is_not_a_download_link(services, browser):
    token = services.token("ana.admin@acme.example")
    response = browser.get(f"{services.base_url}/downloads/{token}")
    assert_error(response, 401, "unauthorized", "not valid")


def test_an_expired_link_signed_by_sign_link_is_401_saying_it_expired(services, browser):
    settings = settings_of(services, download_ttl_minutes=-1)
    url, expires = downloads.sign_link(
        settings,
        downloads.LinkTarget(
            "invoice",
            object_id(services, m.Invoice, number="INV-10000001"),
            services.account_id(ACME),
            services.user_id(ADMIN),
        ),
    )
    assert expires < dt.datetime.now(dt.timezone.utc)
    assert url.startswith(f"{services.base_url}/downloads/")
    response = browser.get(url)
    assert_error(response, 401, "unauthorized", "expired", "ask for a new one")
    assert b"%PDF" not in response.content


@pytest.mark.parametrize("kind", ["invoice", "document", "report"])
def test_an_expired_link_minted_directly_is_401_saying_it_expired(
    services, browser, ana, reports_made, kind
):
    ids = {
        "invoice": lambda: object_id(services, m.Invoice, number="INV-10000001"),
        "document": lambda: ana.get("/documents").json()[0]["id"],
        "report": lambda: _make_report(ana, reports_made),
    }
    token = jwt.encode(
        {
            "k": kind,
            "id": ids[kind](),
            "acct": services.account_id(ACME),
            "usr": services.user_id(ADMIN),
            "exp": int(time.time()) - 5,
        },
        TEST_DOWNLOAD_SECRET,
        algorithm="HS256",
    )
    assert_error(
        browser.get(f"{services.base_url}/downloads/{token}"), 401, "unauthorized", "expired"
    )


def _make_report(client: httpx.Client, reports_made: List[int]) -> int:
    today = dt.date.today()
    answer = client.post(
        "/reports",
        headers=key(),
        json={
            "type": "order_history",
            "starts_on": (today - dt.timedelta(days=30)).isoformat(),
            "ends_on": today.isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    reports_made.append(answer.json()["id"])
    return int(answer.json()["id"])


def _globex_objects(services: Any, reports_made: List[int]) -> Dict[str, Tuple[int, str]]:
    """Another account's invoice, document and report: (id, a text that would give it away)."""
    with Session(services.engine) as session:
        globex = session.scalar(select(m.Account).filter_by(name=GLOBEX))
        invoice = session.scalar(
            select(m.Invoice).filter_by(account_id=globex.id).order_by(m.Invoice.id)
        )
        document = session.scalar(
            select(m.Document).filter_by(account_id=globex.id).order_by(m.Document.id)
        )
        found = {"invoice": (invoice.id, invoice.number), "document": (document.id, document.title)}
    with services.client(GLOBEX_ADMIN) as diego:
        found["report"] = (_make_report(diego, reports_made), GLOBEX)
    return found


@pytest.mark.parametrize("kind", ["invoice", "document", "report"])
def test_a_link_for_another_accounts_object_does_not_leak_it(services, browser, reports_made, kind):
    """Even correctly signed, a link naming Acme but Globex's object id is 'not found'.

    The link is made for diego, who may see such files in both accounts, so the answer
    is decided by the object's account alone.
    """
    other_id, giveaway = _globex_objects(services, reports_made)[kind]
    settings = settings_of(services)
    diego = services.user_id(GLOBEX_ADMIN)
    url, _ = downloads.sign_link(
        settings, downloads.LinkTarget(kind, other_id, services.account_id(ACME), diego)
    )
    response = browser.get(url)
    error = assert_error(response, 404, "not_found", "not found")
    assert giveaway not in response.text
    assert GLOBEX not in response.text
    assert b"%PDF" not in response.content
    assert error.get("what") == kind

    # the same object under its own account's name opens: the 404 above is the account check
    own, _ = downloads.sign_link(
        settings, downloads.LinkTarget(kind, other_id, services.account_id(GLOBEX), diego)
    )
    assert browser.get(own).status_code == 200


@pytest.mark.parametrize("kind", ["invoice", "document", "report"])
def test_a_link_for_a_missing_object_is_404(services, browser, kind):
    target = downloads.LinkTarget(
        kind, 2_000_000_000, services.account_id(ACME), services.user_id(GLOBEX_ADMIN)
    )
    url, _ = downloads.sign_link(settings_of(services), target)
    assert_error(browser.get(url), 404, "not_found", "not found")


def test_asking_for_a_link_needs_a_token_and_the_account(services, browser):
    assert_error(browser.get(f"{services.base_url}/invoices/INV-10000001/pdf"), 401, "unauthorized")
    with services.client(GLOBEX_ADMIN) as diego:
        assert_error(diego.get("/invoices/INV-10000001/pdf"), 404, "not_found", "not found")
        documents = {d["id"] for d in diego.get("/documents").json()}
        with services.client(ADMIN) as ana:
            acme_document = ana.get("/documents").json()[0]["id"]
        assert acme_document not in documents
        assert_error(diego.get(f"/documents/{acme_document}/link"), 404, "not_found")


# --- a link belongs to its person, while they may see the file ------------------------------


def test_a_link_opens_only_while_its_person_is_in_the_account(services, browser, audit_rows):
    """Diego (a buyer at Acme) keeps a link; deactivated, it opens nothing; reactivated, again."""
    diego_id = services.user_id(GLOBEX_ADMIN)
    with services.client(GLOBEX_ADMIN, ACME) as diego:
        url = diego.get("/invoices/INV-10000001/pdf").json()["url"]
    assert_pdf(browser.get(url), "INV-10000001.pdf")
    with services.client(ADMIN) as ana:
        answer = ana.post(f"/users/{diego_id}/deactivate", headers=key())
        assert answer.status_code == 200, answer.text
        try:
            before = len(audit_rows(action="download", outcome="denied", user_id=None))
            response = browser.get(url)
            assert_error(response, 401, "unauthorized", "no longer valid")
            assert b"%PDF" not in response.content
            denied = audit_rows(
                expect=before + 1, action="download", outcome="denied", user_id=None
            )
            assert denied[-1].detail == {"reason": "no_access", "user_id": diego_id}
            assert denied[-1].target.startswith("invoice ")
        finally:
            answer = ana.post(f"/users/{diego_id}/reactivate", headers=key())
            assert answer.status_code == 200, answer.text
    assert_pdf(browser.get(url), "INV-10000001.pdf")


def test_a_report_link_closes_when_its_person_loses_reporting_access(
    services, browser, reports_made
):
    with services.client(GLOBEX_ADMIN) as diego:
        url = diego.get(f"/reports/{_make_report(diego, reports_made)}").json()["link"]["url"]
    assert browser.get(url).status_code == 200
    _set_reporting_access(services, GLOBEX_ADMIN, False)
    try:
        error = assert_error(browser.get(url), 403, "forbidden")
        assert error["reason"] == "user_flag"
    finally:
        _set_reporting_access(services, GLOBEX_ADMIN, True)
    assert browser.get(url).status_code == 200


def _set_reporting_access(services: Any, email: str, on: bool) -> None:
    with Session(services.engine) as session, session.begin():
        session.scalar(select(m.User).filter_by(email=email)).reporting_access = on


def test_a_bad_link_is_audited_with_the_address_it_came_from(services, browser, audit_rows):
    where = {"action": "download", "outcome": "denied", "user_id": None, "target": ""}
    before = len(audit_rows(**where))
    assert browser.get(f"{services.base_url}/downloads/not-a-link").status_code == 401
    rows = audit_rows(expect=before + 1, **where)
    assert rows[-1].detail == {"reason": "link_invalid", "address": "127.0.0.1"}


def test_files_and_personal_data_are_never_cached(services, ana, browser):
    url = ana.get("/invoices/INV-10000001/pdf").json()["url"]
    assert browser.get(url).headers["cache-control"] == "no-store"
    for path in ("/me", "/invoices", "/payment-methods"):
        assert ana.get(path).headers["cache-control"] == "no-store", path
    assert browser.get(f"{services.base_url}/me").headers["cache-control"] == "no-store"
