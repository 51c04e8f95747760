"""Bad input gets a clear 4xx in the one error shape, never a 5xx, and writes nothing.

Every case here is sent to the real service on each database backend. "Nothing
written" is checked by counting every business table, the idempotency records
and the audit log's `ok` events before and after (probes and denials are audited
on purpose, so the other audit outcomes may grow).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import sqlite3
import threading
import time
import uuid
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import httpx
import jwt
import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot import tokens
from bot.services import models as m
from bot.services.app import MAX_BODY_BYTES
from tests.conftest import TEST_DOWNLOAD_SECRET, TEST_SIGNING_KEY, TEST_VERIFY_KEY

ADMIN = "ana.admin@acme.example"
BUYER = "ben.buyer@acme.example"
ACME = "Acme Corporation"
UNPAID_INVOICE = "INV-10000003"
ACME_TAG = "7XK2M93"
GLOBEX_TAG = "MX4R8T2"

# --- helpers -----------------------------------------------------------------------------


def key() -> Dict[str, str]:
    return {"Idempotency-Key": f"bad-input-{uuid.uuid4().hex}"}


def counts(services: Any) -> Dict[str, int]:
    """Rows per table, with the audit log counted by its successful writes only (one query)."""
    columns = [
        select(func.count()).select_from(table).scalar_subquery().label(table.name)
        for table in m.Base.metadata.sorted_tables
        if table.name != m.AuditEvent.__tablename__
    ]
    ok_events = select(func.count()).select_from(m.AuditEvent).where(m.AuditEvent.outcome == "ok")
    columns.append(ok_events.scalar_subquery().label("audit ok events"))
    with Session(services.engine) as session:
        return dict(session.execute(select(*columns)).one()._mapping)


def assert_error(response: httpx.Response, status: int, code: str, *says: str) -> Dict[str, Any]:
    """The response is `status` with the one error shape, `code`, and a message saying `says`."""
    where = f"{response.request.method} {response.request.url.path}: {response.text[:400]}"
    assert response.status_code == status, where
    assert response.headers["content-type"].startswith("application/json"), where
    error = response.json()["error"]
    assert error["code"] == code, where
    message = error["message"]
    assert isinstance(message, str) and len(message) >= 10, where
    assert len(message) < 1000, f"the message should stay readable: {where}"
    for fragment in says:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    return error


def assert_client_error(response: httpx.Response, statuses: Tuple[int, ...]) -> Dict[str, Any]:
    where = f"{response.request.method} {response.request.url.path}: {response.text[:400]}"
    assert response.status_code in statuses, where
    assert response.headers["content-type"].startswith("application/json"), where
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and len(error["message"]) >= 10
    return error


@pytest.fixture
def ana(services) -> Iterator[httpx.Client]:
    with services.client(ADMIN) as client:
        yield client


@pytest.fixture
def created(services) -> Iterator[List[Tuple[type, int]]]:
    """Rows a test made on purpose, as (model, id); deleted afterwards, in reverse order."""
    rows: List[Tuple[type, int]] = []
    yield rows
    with Session(services.engine) as session, session.begin():
        for model, row_id in reversed(rows):
            session.execute(delete(model).where(model.id == row_id))


def ben_id(services: Any) -> int:
    return services.user_id(BUYER)


# --- malformed and out-of-range identifiers ----------------------------------------------

MALFORMED_PATHS = [
    # (method, path, field named in the message)
    ("GET", "/orders/12345", "order_number"),
    ("GET", "/orders/abcdefghi", "order_number"),
    ("GET", "/orders/1000000011", "order_number"),
    ("GET", "/orders/%FF%FE", "order_number"),
    ("GET", "/invoices/INV-1", "invoice_number"),
    # The route's pattern is ^INV-[0-9]{8}$: a lower-case prefix is refused, not normalized.
    ("GET", "/invoices/inv-10000001", "invoice_number"),
    ("GET", "/invoices/inv-10000001/pdf", "invoice_number"),
    ("GET", "/invoices/INV-100000011", "invoice_number"),
    ("GET", "/devices/7XK2M9", "service tag"),
    ("GET", "/devices/7XK2M93!", "service tag"),
    ("GET", "/devices/" + "7" * 300, "service tag"),
    ("GET", "/devices/%FF%FE", "service tag"),
    ("GET", "/service-requests/123", "number"),
    ("GET", "/service-requests/10000000011", "number"),
    ("GET", "/contracts/SC-1", "contract_number"),
    ("GET", "/addresses/0", "address_id"),
    ("GET", "/addresses/-1", "address_id"),
    ("GET", "/addresses/2147483648", "address_id"),
    ("GET", "/addresses/99999999999999999999999999999999", "address_id"),
    ("GET", "/addresses/1.5", "address_id"),
    ("GET", "/addresses/abc", "address_id"),
    ("GET", "/documents/0/link", "document_id"),
    ("GET", "/reports/-7", "report_id"),
    ("GET", "/reports/2147483648", "report_id"),
    ("PATCH", "/users/0", "user_id"),
    ("POST", "/users/-1/deactivate", "user_id"),
    ("POST", "/users/99999999999999999999/deactivate", "user_id"),
    ("POST", "/users/0/reactivate", "user_id"),
    ("POST", "/invoices/INV-1/payments", "invoice_number"),
]


@pytest.mark.parametrize(
    "method,path,field", MALFORMED_PATHS, ids=[f"{m_} {p[:40]}" for m_, p, _ in MALFORMED_PATHS]
)
def test_malformed_identifiers_are_refused(services, ana, method, path, field):
    before = counts(services)
    body = (
        {"role": "buyer"}
        if method == "PATCH"
        else ({"payment_method_id": 1} if path.endswith("/payments") else None)
    )
    response = ana.request(method, path, json=body, headers=key())
    assert_error(response, 422, "invalid_request", field)
    assert counts(services) == before


def test_a_long_tag_is_quoted_short_in_the_message(ana):
    error = assert_error(
        ana.get("/devices/" + "A" * 300), 422, "invalid_request", "is not a service tag"
    )
    assert len(error["message"]) < 120
    assert error["field"] == "service_tag"


@pytest.mark.parametrize(
    "path,what",
    [
        ("/addresses/2147483647", "address"),
        ("/reports/2147483647", "report"),
        ("/documents/2147483647/link", "document"),
        ("/orders/999999999", "order"),
        ("/invoices/INV-99999999", "invoice"),
        ("/devices/ZZZZZZZ", "service tag"),
        ("/service-requests/9999999999", "service request"),
        ("/contracts/SC-99999999", "contract"),
    ],
)
def test_well_formed_but_unknown_identifiers_are_not_found(services, ana, path, what):
    before = counts(services)
    assert_error(ana.get(path), 404, "not_found", what, "not found")
    assert counts(services) == before


@pytest.mark.parametrize(
    "method,path,body,field",
    [
        (
            "POST",
            f"/invoices/{UNPAID_INVOICE}/payments",
            {"payment_method_id": 0},
            "payment_method_id",
        ),
        (
            "POST",
            f"/invoices/{UNPAID_INVOICE}/payments",
            {"payment_method_id": -1},
            "payment_method_id",
        ),
        ("POST", "/cart/reorder", {"order_number": "-100000001"}, "order_number"),
        ("POST", "/cart/reorder", {"order_number": "12345"}, "order_number"),
        (
            "POST",
            "/contracts/renewal-quotes",
            {"service_tags": ["7XK2M9"], "plan": "basic", "years": 1},
            "service_tags",
        ),
        (
            "POST",
            "/contracts/renewal-quotes",
            {"service_tags": [ACME_TAG], "plan": "basic", "years": 0},
            "years",
        ),
        (
            "POST",
            "/contracts/renewals",
            {"service_tags": [ACME_TAG], "plan": "basic", "years": 99},
            "years",
        ),
        (
            "POST",
            "/contracts/renewals",
            {"service_tags": [], "plan": "basic", "years": 1},
            "service_tags",
        ),
        (
            "POST",
            "/service-requests",
            {"service_tag": "7XK2M93!", "description": "It is broken"},
            "service_tag",
        ),
    ],
)
def test_out_of_range_values_in_bodies_are_refused(services, ana, method, path, body, field):
    before = counts(services)
    assert_error(ana.request(method, path, json=body, headers=key()), 422, "invalid_request", field)
    assert counts(services) == before


def test_an_id_beyond_32_bits_is_refused_before_any_lookup(services, ana):
    before = counts(services)
    response = ana.post(
        f"/invoices/{UNPAID_INVOICE}/payments", json={"payment_method_id": 2**62}, headers=key()
    )
    assert_error(response, 422, "invalid_request", "payment_method_id")
    assert counts(services) == before


def test_integer_beyond_64_bits_is_a_client_error(services, ana, request):
    before = counts(services)
    with httpx.Client(base_url=services.base_url, headers=ana.headers, timeout=30) as fresh:
        # a fresh connection: the server drops the keep-alive one after a 500
        response = fresh.post(
            f"/invoices/{UNPAID_INVOICE}/payments", json={"payment_method_id": 2**63}, headers=key()
        )
    assert counts(services) == before
    assert_client_error(response, (404, 422))


# --- unknown fields, wrong types --------------------------------------------------------


def _valid_writes(services: Any) -> List[Tuple[str, str, Dict[str, Any]]]:
    return [
        ("PATCH", "/account", {"phone": "+1 512 555 0101"}),
        ("PATCH", "/profile", {"job_title": "CTO"}),
        (
            "POST",
            "/addresses",
            {
                "label": "Annex",
                "line1": "1 Main St",
                "city": "Austin",
                "postal_code": "78701",
                "country": "US",
            },
        ),
        ("POST", "/users/invitations", {"email": "new.person@acme.example", "role": "buyer"}),
        ("PATCH", f"/users/{ben_id(services)}", {"role": "shopper"}),
        ("POST", "/sso-requests", {"identity_provider": "Okta"}),
        ("POST", "/cart/reorder", {"order_number": "100000001"}),
        ("POST", f"/invoices/{UNPAID_INVOICE}/payments", {"payment_method_id": 1}),
        (
            "POST",
            "/contracts/renewal-quotes",
            {"service_tags": [ACME_TAG], "plan": "prosupport", "years": 1},
        ),
        (
            "POST",
            "/contracts/upgrade-quotes",
            {"service_tags": ["3FJ8K21"], "plan": "prosupport_plus"},
        ),
        (
            "POST",
            "/contracts/renewals",
            {"service_tags": [ACME_TAG], "plan": "prosupport", "years": 1},
        ),
        ("POST", "/contracts/upgrades", {"service_tags": ["3FJ8K21"], "plan": "prosupport_plus"}),
        ("POST", "/service-requests", {"service_tag": ACME_TAG, "description": "Fan is loud"}),
        ("POST", "/reports", {"type": "spend", "starts_on": "2025-01-01", "ends_on": "2025-03-31"}),
        ("POST", "/me/switch-account", {"account": "acme"}),
    ]


WRITE_IDS = [
    "PATCH /account",
    "PATCH /profile",
    "POST /addresses",
    "POST /users/invitations",
    "PATCH /users/{id}",
    "POST /sso-requests",
    "POST /cart/reorder",
    "POST /invoices/{n}/payments",
    "POST /contracts/renewal-quotes",
    "POST /contracts/upgrade-quotes",
    "POST /contracts/renewals",
    "POST /contracts/upgrades",
    "POST /service-requests",
    "POST /reports",
    "POST /me/switch-account",
]


@pytest.mark.parametrize("index", range(len(WRITE_IDS)), ids=WRITE_IDS)
@pytest.mark.parametrize(
    "extra",
    [{"unexpected": 1}, {"is_admin": True}, {"account_id": 2}],
    ids=["unexpected", "is_admin", "account_id"],
)
def test_unknown_fields_are_refused_by_every_write(services, ana, index, extra):
    method, path, body = _valid_writes(services)[index]
    name = next(iter(extra))
    before = counts(services)
    response = ana.request(method, path, json={**body, **extra}, headers=key())
    error = assert_error(response, 422, "invalid_request", name, "not permitted")
    assert {"field": name, "problem": "extra fields not permitted"} in error["fields"]
    assert counts(services) == before


WRONG_TYPES = [
    # (method, path, body, field named in the message)
    (
        "POST",
        "/service-requests",
        {"service_tag": [ACME_TAG], "description": "Fan is loud"},
        "service_tag",
    ),
    ("POST", "/service-requests", {"service_tag": ACME_TAG, "description": None}, "description"),
    (
        "POST",
        "/service-requests",
        {"service_tag": ACME_TAG, "description": {"text": "x"}},
        "description",
    ),
    ("POST", "/service-requests", {"service_tag": ACME_TAG}, "description"),
    (
        "POST",
        f"/invoices/{UNPAID_INVOICE}/payments",
        {"payment_method_id": "one"},
        "payment_method_id",
    ),
    (
        "POST",
        f"/invoices/{UNPAID_INVOICE}/payments",
        {"payment_method_id": None},
        "payment_method_id",
    ),
    (
        "POST",
        f"/invoices/{UNPAID_INVOICE}/payments",
        {"payment_method_id": [1]},
        "payment_method_id",
    ),
    (
        "POST",
        "/reports",
        {"type": ["spend"], "starts_on": "2025-01-01", "ends_on": "2025-02-01"},
        "type",
    ),
    (
        "POST",
        "/reports",
        {"type": "spend", "starts_on": "last monday", "ends_on": "2025-02-01"},
        "starts_on",
    ),
    (
        "POST",
        "/reports",
        {"type": "spend", "starts_on": None, "ends_on": "2025-02-01"},
        "starts_on",
    ),
    (
        "POST",
        "/reports",
        {"type": "spend", "starts_on": "2025-02-30", "ends_on": "2025-03-01"},
        "starts_on",
    ),
    (
        "POST",
        "/contracts/renewal-quotes",
        {"service_tags": ACME_TAG, "plan": "basic", "years": 1},
        "service_tags",
    ),
    (
        "POST",
        "/contracts/renewal-quotes",
        {"service_tags": [ACME_TAG], "plan": "basic", "years": "two"},
        "years",
    ),
    ("POST", "/contracts/renewal-quotes", {"service_tags": [ACME_TAG], "plan": None}, "plan"),
    ("POST", "/users/invitations", {"email": ["x@acme.example"], "role": "buyer"}, "email"),
    ("POST", "/users/invitations", {"email": "x@acme.example", "role": None}, "role"),
    ("POST", "/users/invitations", {"email": "not an email", "role": "buyer"}, "email"),
    (
        "POST",
        "/addresses",
        {
            "label": {"a": 1},
            "line1": "1 Main St",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
        },
        "label",
    ),
    ("POST", "/sso-requests", {"identity_provider": ["Okta"]}, "identity_provider"),
    ("PATCH", "/profile", {"language": ["en"]}, "language"),
    ("PATCH", "/account", {"phone": "call me maybe"}, "phone"),
    ("POST", "/me/switch-account", {"account": None}, "account"),
    ("POST", "/cart/reorder", [], "body"),
    ("POST", "/cart/reorder", [["order_number", "100000001"]], "JSON object"),
    ("POST", "/cart/reorder", "100000001", "body"),
    ("POST", "/cart/reorder", 100000001, "body"),
    ("POST", "/cart/reorder", None, "body"),
]


@pytest.mark.parametrize(
    "method,path,body,field",
    WRONG_TYPES,
    ids=[f"{w[0]} {w[1]} {str(w[2])[:30]}" for w in WRONG_TYPES],
)
def test_wrong_types_are_refused(services, ana, method, path, body, field):
    before = counts(services)
    content = json.dumps(body).encode("utf-8")
    response = ana.request(
        method, path, content=content, headers={**key(), "Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_request", field)
    assert counts(services) == before


def test_null_only_update_is_refused_as_nothing_to_update(services, ana):
    before = counts(services)
    response = ana.patch("/profile", json={"name": None, "phone": None}, headers=key())
    assert_error(response, 422, "invalid_request", "nothing to update")
    assert counts(services) == before


@pytest.mark.parametrize(
    "query,field",
    [
        ("days=ten", "days"),
        ("days=0", "days"),
        ("days=-1", "days"),
        ("days=99999999999999999999", "days"),
        ("channel=fax", "channel"),
    ],
)
def test_wrong_query_values_are_refused(ana, query, field):
    assert_error(ana.get(f"/orders?{query}"), 422, "invalid_request", field)


def test_report_period_in_the_wrong_order_is_refused(services, ana):
    before = counts(services)
    response = ana.post(
        "/reports",
        json={"type": "spend", "starts_on": "2025-03-01", "ends_on": "2025-02-01"},
        headers=key(),
    )
    error = assert_error(response, 422, "invalid_request", "ends_on", "ends before it starts")
    assert error["fields"] == [{"field": "ends_on", "problem": "the period ends before it starts"}]
    response = ana.post(
        "/reports",
        json={"type": "spend", "starts_on": "2020-01-01", "ends_on": "2025-01-01"},
        headers=key(),
    )
    assert_error(response, 422, "invalid_request", "at most three years")
    assert counts(services) == before


# --- bodies that are too big or not JSON ------------------------------------------------


def _big_description() -> bytes:
    return b'{"service_tag": "7XK2M93", "description": "' + b"x" * (MAX_BODY_BYTES + 1024) + b'"}'


def test_body_over_64_kib_with_content_length_is_413(services, ana):
    before = counts(services)
    body = _big_description()
    response = ana.post(
        "/service-requests", content=body, headers={**key(), "Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert_error(response, 413, "payload_too_large", "64 KiB")
    assert counts(services) == before


def _chunks() -> Iterator[bytes]:
    body = _big_description()
    for start in range(0, len(body), 4096):
        yield body[start : start + 4096]


def test_chunked_body_over_64_kib_is_refused_and_writes_nothing(services, ana):
    before = counts(services)
    response = ana.post(
        "/service-requests",
        content=_chunks(),
        headers={**key(), "Content-Type": "application/json"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_client_error(response, (400, 413))
    assert counts(services) == before


def test_chunked_body_over_64_kib_is_413(services, ana):
    response = ana.post(
        "/service-requests",
        content=_chunks(),
        headers={**key(), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large", "64 KiB")


def test_a_body_just_under_the_limit_reaches_validation(services, ana):
    before = counts(services)
    body = b'{"service_tag": "7XK2M93", "description": "' + b"x" * (MAX_BODY_BYTES - 100) + b'"}'
    assert len(body) <= MAX_BODY_BYTES
    response = ana.post(
        "/service-requests", content=body, headers={**key(), "Content-Type": "application/json"}
    )
    assert_error(response, 422, "invalid_request", "description")
    assert counts(services) == before


NOT_JSON = [
    ("truncated", b'{"service_tag": "7XK2M93", "description": "broken'),
    ("trailing comma", b'{"service_tag": "7XK2M93", "description": "Fan is loud",}'),
    ("trailing garbage", b'{"service_tag": "7XK2M93", "description": "Fan is loud"} x'),
    ("single quotes", b"{'service_tag': '7XK2M93', 'description': 'Fan is loud'}"),
    ("empty", b""),
    ("invalid utf-8 in a string", b'{"service_tag": "7XK2M93", "description": "caf\xe9 au lait"}'),
    ("invalid utf-8 bytes", b"\xff\xfe\xfd\xfc"),
    ("NaN", b"NaN"),
]


@pytest.mark.parametrize("body", [b for _, b in NOT_JSON], ids=[n for n, _ in NOT_JSON])
def test_bodies_that_are_not_json_are_refused(services, ana, body):
    before = counts(services)
    response = ana.post(
        "/service-requests", content=body, headers={**key(), "Content-Type": "application/json"}
    )
    assert_client_error(response, (400, 422))
    assert counts(services) == before


def test_a_json_body_sent_as_text_plain_is_refused(services, ana):
    before = counts(services)
    response = ana.post(
        "/service-requests",
        content=b'{"service_tag": "7XK2M93", "description": "Fan is loud"}',
        headers={**key(), "Content-Type": "text/plain"},
    )
    assert_error(response, 422, "invalid_request", "body")
    assert counts(services) == before


# --- tokens ------------------------------------------------------------------------------


def _claims(services: Any, **overrides: Any) -> Dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": tokens.ISSUER,
        "sub": str(services.user_id(ADMIN)),
        "acct": services.account_id(ACME),
        "chn": "test",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _hmac_token(claims: Dict[str, Any], key: bytes) -> str:
    """An HS256 token made by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = part(json.dumps(claims).encode())
    signature = hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{part(signature)}"


def _quietly(function: Callable, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():  # PyJWT warns that the key is short for HS512
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


BAD_AUTHORIZATION: List[Tuple[str, Callable[[Any], Optional[str]], str]] = [
    ("absent", lambda s: None, "sign in required"),
    ("basic", lambda s: "Basic x", "Bearer <token>"),
    ("bearer without token", lambda s: "Bearer", "Bearer <token>"),
    ("three dots", lambda s: "Bearer a.b.c", "not valid"),
    ("not a jwt", lambda s: "Bearer hello", "not valid"),
    (
        "forged",
        lambda s: (
            "Bearer "
            + tokens.mint_token(
                tokens.generate_key_pair()[0],  # a key pair that is not the services'
                user_id=s.user_id(ADMIN),
                account_id=s.account_id(ACME),
                channel="test",
            )
        ),
        "not valid",
    ),
    (
        "signed with the download secret",
        lambda s: "Bearer " + jwt.encode(_claims(s), TEST_DOWNLOAD_SECRET, algorithm="HS256"),
        "not valid",
    ),
    (
        "HS256 keyed with the public key (algorithm confusion)",
        lambda s: "Bearer " + _hmac_token(_claims(s), TEST_VERIFY_KEY.encode()),
        "not valid",
    ),
    ("alg none", lambda s: "Bearer " + jwt.encode(_claims(s), None, algorithm="none"), "not valid"),
    (
        "HS512",
        lambda s: "Bearer " + _quietly(jwt.encode, _claims(s), "h" * 48, algorithm="HS512"),
        "not valid",
    ),
    (
        "other issuer",
        lambda s: (
            "Bearer "
            + jwt.encode(_claims(s, iss="someone-else"), TEST_SIGNING_KEY, algorithm="EdDSA")
        ),
        "not valid",
    ),
    (
        "no expiry",
        lambda s: "Bearer " + jwt.encode(_claims(s, exp=None), TEST_SIGNING_KEY, algorithm="EdDSA"),
        "not valid",
    ),
    (
        "subject not a number",
        lambda s: (
            "Bearer " + jwt.encode(_claims(s, sub="ana"), TEST_SIGNING_KEY, algorithm="EdDSA")
        ),
        "not valid",
    ),
    (
        "unknown channel",
        lambda s: (
            "Bearer " + jwt.encode(_claims(s, chn="telepathy"), TEST_SIGNING_KEY, algorithm="EdDSA")
        ),
        "not valid",
    ),
    (
        "unknown user",
        lambda s: (
            "Bearer "
            + tokens.mint_token(
                TEST_SIGNING_KEY, user_id=2_000_000_000, account_id=None, channel="test"
            )
        ),
        "not valid",
    ),
    (
        "account not theirs",
        lambda s: (
            "Bearer "
            + tokens.mint_token(
                TEST_SIGNING_KEY,
                user_id=s.user_id(ADMIN),
                account_id=s.account_id("Initech GmbH"),
                channel="test",
            )
        ),
        "no longer have access",
    ),
]


@pytest.mark.parametrize(
    "make,says", [(b[1], b[2]) for b in BAD_AUTHORIZATION], ids=[b[0] for b in BAD_AUTHORIZATION]
)
def test_bad_tokens_are_401_unauthorized(services, make, says):
    header = make(services)
    headers = {} if header is None else {"Authorization": header}
    before = counts(services)
    with httpx.Client(base_url=services.base_url, timeout=30) as anonymous:
        assert_error(anonymous.get("/me", headers=headers), 401, "unauthorized", says)
        assert_error(
            anonymous.post(
                "/sso-requests", json={"identity_provider": "Okta"}, headers={**headers, **key()}
            ),
            401,
            "unauthorized",
            says,
        )
    assert counts(services) == before


def test_expired_token_is_401_token_expired_telling_to_sign_in_again(services):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    stale = services.token(ADMIN, now=past, ttl=dt.timedelta(minutes=30))
    before = counts(services)
    with httpx.Client(
        base_url=services.base_url, timeout=30, headers={"Authorization": f"Bearer {stale}"}
    ) as client:
        assert_error(client.get("/me"), 401, "token_expired", "expired", "sign in again")
        assert_error(
            client.post("/sso-requests", json={"identity_provider": "Okta"}, headers=key()),
            401,
            "token_expired",
            "sign in again",
        )
    assert counts(services) == before


def _person(
    services: Any,
    created: List[Tuple[type, int]],
    *,
    user_status: str,
    membership_status: str = "active",
) -> Tuple[int, int]:
    """A new Acme buyer straight in the database; returns (user id, membership id)."""
    with Session(services.engine) as session, session.begin():
        user = m.User(
            email=f"temp.{uuid.uuid4().hex[:10]}@acme.example",
            name="Temp Person",
            status=user_status,
        )
        session.add(user)
        session.flush()
        membership = m.Membership(
            user_id=user.id,
            account_id=services.account_id(ACME),
            role="buyer",
            status=membership_status,
        )
        session.add(membership)
        session.flush()
        ids = user.id, membership.id
    created.extend([(m.User, ids[0]), (m.Membership, ids[1])])
    return ids


def _bearer(services: Any, user_id: int) -> Dict[str, str]:
    token = tokens.mint_token(
        TEST_SIGNING_KEY, user_id=user_id, account_id=services.account_id(ACME), channel="test"
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("status", ["deactivated", "invited"])
def test_token_of_a_user_who_is_not_active_is_401(services, created, status):
    user_id, _ = _person(services, created, user_status=status)
    with httpx.Client(base_url=services.base_url, timeout=30) as client:
        assert_error(
            client.get("/me", headers=_bearer(services, user_id)), 401, "unauthorized", "not valid"
        )


def test_token_of_a_member_deactivated_by_their_admin_is_401(services, ana, created):
    user_id, _ = _person(services, created, user_status="active")
    with httpx.Client(
        base_url=services.base_url, timeout=30, headers=_bearer(services, user_id)
    ) as member:
        assert member.get("/me").status_code == 200
        response = ana.post(f"/users/{user_id}/deactivate", headers=key())
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "deactivated"
        assert_error(member.get("/me"), 401, "unauthorized", "no longer have access")


def test_a_deactivated_member_can_be_reactivated_once(services, ana, created, audit_rows):
    user_id, _ = _person(services, created, user_status="active")
    with httpx.Client(
        base_url=services.base_url, timeout=30, headers=_bearer(services, user_id)
    ) as member:
        assert_error(
            ana.post(f"/users/{user_id}/reactivate", headers=key()), 409, "conflict", "not deact"
        )
        assert ana.post(f"/users/{user_id}/deactivate", headers=key()).status_code == 200
        again = key()
        response = ana.post(f"/users/{user_id}/reactivate", headers=again)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        assert member.get("/me").status_code == 200  # signs in to the account again
        replay = ana.post(f"/users/{user_id}/reactivate", headers=again)
        assert replay.json()["replayed"] is True
        with Session(services.engine) as session:
            email = session.scalar(select(m.User.email).filter_by(id=user_id))
        assert len(audit_rows(action="reactivate_user", outcome="ok", target=f"user {email}")) == 1


# --- text that looks like code is just text ---------------------------------------------

SQL_AND_HTML = 'Fan noise\'); DROP TABLE orders; --<script>alert("x")</script> & \\u0000'


def test_sql_and_html_in_text_are_stored_verbatim_and_returned_as_json(services, ana, created):
    before = counts(services)
    response = ana.post(
        "/service-requests",
        json={"service_tag": ACME_TAG, "description": SQL_AND_HTML},
        headers=key(),
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    made = response.json()
    with Session(services.engine) as session:
        created.append(
            (
                m.ServiceRequest,
                session.scalar(select(m.ServiceRequest.id).filter_by(number=made["number"])),
            )
        )
    assert made["description"] == SQL_AND_HTML
    assert made["summary"] == SQL_AND_HTML

    again = ana.get(f"/service-requests/{made['number']}")
    assert again.status_code == 200
    assert again.headers["content-type"] == "application/json"
    assert again.json()["description"] == SQL_AND_HTML
    assert "text/html" not in again.headers["content-type"]
    listed = {r["number"]: r for r in ana.get("/service-requests").json()}
    assert listed[made["number"]]["description"] == SQL_AND_HTML

    # the orders table is still there, untouched
    orders = ana.get("/orders", params={"days": 365})
    assert orders.status_code == 200 and len(orders.json()) >= 5
    after = counts(services)
    assert after["orders"] == before["orders"]
    assert after["service_requests"] == before["service_requests"] + 1


@pytest.mark.parametrize(
    "method,path,kwargs,status,code",
    [
        ("GET", "/devices/7XK2M93' OR '1'='1", {}, 422, "invalid_request"),
        ("GET", "/me/decisions/x' OR 1=1 --", {}, 404, "not_found"),
        (
            "GET",
            "/support-contacts",
            {"params": {"region": "EMEA' OR ''='"}},
            422,
            "invalid_request",
        ),
        (
            "GET",
            "/service-requests",
            {"params": {"status": "open' OR '1'='1"}},
            422,
            "invalid_request",
        ),
        ("POST", "/me/switch-account", {"json": {"account": "' OR 1=1 --"}}, 404, "not_found"),
        ("POST", "/me/switch-account", {"json": {"account": "%"}}, 404, "not_found"),
        ("POST", "/cart/reorder", {"json": {"order_number": "1 OR 1=1"}}, 422, "invalid_request"),
    ],
)
def test_sql_in_lookups_matches_nothing(services, ana, method, path, kwargs, status, code):
    before = counts(services)
    response = ana.request(method, path, headers=key(), **kwargs)
    assert_error(response, status, code)
    assert counts(services) == before


def test_nul_character_in_a_text_field_is_a_client_error_or_stored(services, ana, created, request):
    before = counts(services)
    with httpx.Client(base_url=services.base_url, headers=ana.headers, timeout=30) as fresh:
        response = fresh.post(
            "/sso-requests",
            json={"identity_provider": "Okta", "note": "before\x00after"},
            headers=key(),
        )
    if response.status_code == 201:
        created.append((m.SsoRequest, response.json()["id"]))
        with Session(services.engine) as session:
            stored = session.get(m.SsoRequest, response.json()["id"])
            assert stored is not None and stored.note == "before\x00after"
        return
    assert counts(services) == before
    assert_client_error(response, (400, 422))


SURROGATES = [
    (
        "escaped, stored",
        "/service-requests",
        b'{"service_tag": "7XK2M93", "description": "\\ud800 is half a character"}',
    ),
    ("escaped, echoed in the 404", "/me/switch-account", b'{"account": "\\ud800"}'),
    (
        "raw bytes, stored",
        "/sso-requests",
        b'{"identity_provider": "Okta", "note": "\xed\xa0\x80 is not UTF-8"}',
    ),
]


@pytest.mark.parametrize(
    "path,body", [(p, b) for _, p, b in SURROGATES], ids=[n for n, _, _ in SURROGATES]
)
def test_lone_surrogate_in_a_string_is_a_client_error(services, ana, path, body):
    before = counts(services)
    with httpx.Client(base_url=services.base_url, headers=ana.headers, timeout=30) as fresh:
        response = fresh.post(
            path, content=body, headers={**key(), "Content-Type": "application/json"}
        )
    assert counts(services) == before
    assert_client_error(response, (400, 422))


# --- a database error rolls the whole request back --------------------------------------


def _invite_concurrently(
    services: Any, ana: httpx.Client, email: str, hold: Callable, release: Callable
) -> List[Tuple[str, httpx.Response]]:
    keys = [f"race-{uuid.uuid4().hex}" for _ in range(2)]
    responses: List[Optional[httpx.Response]] = [None, None]
    start = threading.Barrier(2)

    def invite(i: int) -> None:
        with httpx.Client(base_url=services.base_url, headers=ana.headers, timeout=60) as c:
            start.wait()
            responses[i] = c.post(
                "/users/invitations",
                json={"email": email, "role": "buyer"},
                headers={"Idempotency-Key": keys[i]},
            )

    hold()
    threads = [threading.Thread(target=invite, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        release()
    finally:
        for thread in threads:
            thread.join(90)
    assert all(r is not None for r in responses), "an invitation did not come back"
    return list(zip(keys, responses, strict=True))  # type: ignore[arg-type]


def test_concurrent_invitations_of_one_new_email_make_one_membership(services, ana, created):
    """Both requests pass every check; the unique constraint on users.email decides.

    PostgreSQL: the test locks `users` against inserts until both requests are waiting on
    it, so both insert the same new user: one commits, the other hits the unique
    constraint, is rolled back entirely (its idempotency record too) and answers 409.
    SQLite: the test holds the database's write lock until both requests wait for it;
    the writes then run one after the other and the second finds the first's member (409).
    """
    email = f"race.{uuid.uuid4().hex[:10]}@acme.example"
    before = counts(services)
    holder: Dict[str, Any] = {}

    if services.backend == "postgresql":

        def hold() -> None:
            connection = services.engine.connect()
            transaction = connection.begin()
            connection.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
            holder.update(connection=connection, transaction=transaction)

        def release() -> None:
            deadline = time.monotonic() + 20
            with services.engine.connect() as probe:
                while time.monotonic() < deadline:
                    waiting = probe.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass "
                            "AND NOT granted"
                        )
                    ).scalar_one()
                    if waiting >= 2:
                        break
                    time.sleep(0.05)
            assert waiting >= 2, "both invitations should be waiting to insert the user"
            holder["transaction"].commit()
            holder["connection"].close()
    else:

        def hold() -> None:
            connection = sqlite3.connect(
                make_url(services.database_url).database, timeout=30, isolation_level=None
            )
            connection.execute("BEGIN IMMEDIATE")
            holder["connection"] = connection

        def release() -> None:
            time.sleep(1.0)  # both requests are now waiting for the write lock
            holder["connection"].execute("COMMIT")
            holder["connection"].close()

    answers = _invite_concurrently(services, ana, email, hold, release)
    responses = [response for _, response in answers]

    with Session(services.engine) as session:
        users = list(session.scalars(select(m.User).filter_by(email=email)))
        memberships = list(
            session.scalars(
                select(m.Membership).where(m.Membership.user_id.in_([u.id for u in users]))
            )
        )
        for membership in memberships:
            created.append((m.Membership, membership.id))
        for user in users:
            created.insert(0, (m.User, user.id))
        keys = [k for k, _ in answers]
        recorded = set(
            session.scalars(
                select(m.IdempotencyRecord.key).where(m.IdempotencyRecord.key.in_(keys))
            )
        )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409], [r.text for r in responses]
    winner_key, winner = next((k, r) for k, r in answers if r.status_code == 201)
    loser = next(r for r in responses if r.status_code == 409)
    assert winner.json()["email"] == email and winner.json()["status"] == "invited"
    if services.backend == "postgresql":
        assert_error(loser, 409, "conflict", "conflicts with the account's current data")
    else:
        assert_error(loser, 409, "conflict", "already a user of this account")

    assert len(users) == 1 and len(memberships) == 1
    assert recorded == {winner_key}, "the loser left nothing behind"
    after = counts(services)
    assert after["users"] == before["users"] + 1
    assert after["memberships"] == before["memberships"] + 1
    assert after["idempotency_records"] == before["idempotency_records"] + 1
    assert after["audit ok events"] == before["audit ok events"] + 1


# --- a probe inside a write ----------------------------------------------------------------


def test_renewing_another_accounts_device_is_a_prompt_404(services, ana, audit_rows):
    """Regression: the probe is audited while the write's transaction is open.

    On SQLite this used to wait out the 30 s busy timeout for the request's own write lock
    and answer 503 (fixed in c3683b6 by deferring the probe's audit until the rollback).
    """
    before = counts(services)
    probes = len(audit_rows(action="probe:renew_service_contract"))
    started = time.monotonic()
    response = ana.post(
        "/contracts/renewals",
        timeout=60,
        headers=key(),
        json={"service_tags": [GLOBEX_TAG], "plan": "prosupport", "years": 1},
    )
    took = time.monotonic() - started
    assert counts(services) == before
    assert_error(response, 404, "not_found", "service tag", "not found")
    assert took < 10
    deadline = time.monotonic() + 15  # the probe's row is written after the answer
    while len(audit_rows(action="probe:renew_service_contract")) == probes:
        assert time.monotonic() < deadline, "the probe was never audited"
        time.sleep(0.02)
    assert len(audit_rows(action="probe:renew_service_contract")) == probes + 1
