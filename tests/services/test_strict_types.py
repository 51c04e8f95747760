"""Every request field is strictly typed: a wrong type is a 422 naming the field, no write.

A walk over every write endpoint and every field of its body: a value of each wrong
JSON type (a number or a boolean for a string, a string, a float or a boolean for an
integer, a number for a date, null where a value is required) is refused with the
services' one error shape, naming that field alone, and no row of any table changes.
Integer ids in paths and queries take ASCII digits only: "+1", " 1", "1_0", "١" and
"１" (which Python's int() reads as 1) are refused as well. Names and labels refuse
bidirectional controls and control characters; free text (a description, a note)
keeps its tabs and line breaks.

Every case runs against the real services on each database backend.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.conftest import TEST_SLACK_SERVICE_SECRET
from tests.services.test_bad_input import counts, key

ADMIN = "ana.admin@acme.example"
BUYER = "ben.buyer@acme.example"
ACME_TAG = "7XK2M93"
UNPAID_INVOICE = "INV-10000003"

# Field kinds: "text" a required string; "text=" a string with a default (null refused);
# "text?" an optional string (null means "leave it"); "int" / "int?" likewise for integers;
# "date" a required ISO date string; "tags" a required list of strings.
# endpoint -> (method, path, a valid body, {field: kind})
WRITES: Dict[str, Tuple[str, str, Dict[str, Any], Dict[str, str]]] = {
    "PATCH /account": (
        "PATCH",
        "/account",
        {"phone": "+1 512 555 0101"},
        {"legal_name": "text?", "phone": "text?", "tax_id": "text?"},
    ),
    "PATCH /profile": (
        "PATCH",
        "/profile",
        {"job_title": "CTO"},
        {"name": "text?", "phone": "text?", "job_title": "text?", "language": "text?"},
    ),
    "POST /addresses": (
        "POST",
        "/addresses",
        {
            "label": "Annex",
            "line1": "1 Main St",
            "city": "Austin",
            "postal_code": "78701",
            "country": "US",
        },
        {
            "label": "text",
            "kind": "text=",
            "line1": "text",
            "city": "text",
            "region": "text=",
            "postal_code": "text",
            "country": "text",
        },
    ),
    "POST /users/invitations": (
        "POST",
        "/users/invitations",
        {"email": "strict.person@acme.example", "role": "buyer"},
        {"email": "text", "role": "text", "name": "text?"},
    ),
    "PATCH /users/{ben}": ("PATCH", "/users/{ben}", {"role": "shopper"}, {"role": "text"}),
    "POST /sso-requests": (
        "POST",
        "/sso-requests",
        {"identity_provider": "Okta"},
        {"identity_provider": "text", "note": "text="},
    ),
    "POST /cart/reorder": (
        "POST",
        "/cart/reorder",
        {"order_number": "100000001"},
        {"order_number": "text"},
    ),
    "POST /invoices/{n}/payments": (
        "POST",
        f"/invoices/{UNPAID_INVOICE}/payments",
        {"payment_method_id": 1},
        {"payment_method_id": "int"},
    ),
    "POST /contracts/renewal-quotes": (
        "POST",
        "/contracts/renewal-quotes",
        {"service_tags": [ACME_TAG], "plan": "prosupport", "years": 1},
        {"service_tags": "tags", "plan": "text", "years": "int?"},
    ),
    "POST /contracts/renewals": (
        "POST",
        "/contracts/renewals",
        {"service_tags": [ACME_TAG], "plan": "prosupport", "years": 1},
        {"service_tags": "tags", "plan": "text", "years": "int?"},
    ),
    "POST /contracts/upgrade-quotes": (
        "POST",
        "/contracts/upgrade-quotes",
        {"service_tags": ["3FJ8K21"], "plan": "prosupport_plus"},
        {"service_tags": "tags", "plan": "text", "years": "int?"},
    ),
    "POST /contracts/upgrades": (
        "POST",
        "/contracts/upgrades",
        {"service_tags": ["3FJ8K21"], "plan": "prosupport_plus"},
        {"service_tags": "tags", "plan": "text", "years": "int?"},
    ),
    "POST /service-requests": (
        "POST",
        "/service-requests",
        {"service_tag": ACME_TAG, "description": "Fan is loud"},
        {"service_tag": "text", "description": "text"},
    ),
    "POST /reports": (
        "POST",
        "/reports",
        {"type": "spend", "starts_on": "2025-01-01", "ends_on": "2025-03-31"},
        {"type": "text", "starts_on": "date", "ends_on": "date"},
    ),
    "POST /me/switch-account": (
        "POST",
        "/me/switch-account",
        {"account": "acme"},
        {"account": "text"},
    ),
    "POST /handoffs": (
        "POST",
        "/handoffs",
        {"conversation_id": "strict", "channel": "widget", "language": "en", "reason": "asked"},
        {
            "conversation_id": "text",
            "channel": "text",
            "language": "text",
            "reason": "text",
            "topic": "text?",
            "slots": "object=",
            "transcript": "lines=",
        },
    ),
    "POST /handoffs/{h}/messages": (
        "POST",
        "/handoffs/1/messages",
        {"text": "hi"},
        {"text": "text"},
    ),
    "POST /desk/handoffs/{h}/messages": (
        "POST",
        "/desk/handoffs/1/messages",
        {"text": "hi"},
        {"text": "text"},
    ),
    "POST /desk/handoffs/{h}/close": (
        "POST",
        "/desk/handoffs/1/close",
        {"outcome": "resolved"},
        {"outcome": "text", "note": "text?"},
    ),
}

# A value of every other JSON type, per kind; the old code coerced most of these silently
# (-0.0 stored as the text "-0.0", true as "True", years 2.7 priced as two, "1" as 1, 0 as 1970).
WRONG: Dict[str, List[Any]] = {
    "text": [7, -0.0, True],
    "int": ["1", "+1", " 1", "1_0", "\u0661", 1.0, 2.7, True],
    "date": [0, 1735689600.5, True, "1735689600"],
    "tags": ["7XK2M93", 7, True, [1234567], [True], [-0.0]],
    # A handoff's slots (name -> plain value) and transcript (lines of who/text/at).
    "object": ["slots", 7, True, [1], {"topic": {"nested": 1}}, {"bad name!": 1}],
    "lines": ["hi", 7, True, {"who": "customer"}, [7], [{"who": "customer", "text": 7}]],
}


def _wrong_values(kind: str) -> List[Any]:
    values = list(WRONG[kind.rstrip("?=")])
    if not kind.endswith("?"):
        values.append(None)  # null where a value is required (or a default stands)
    return values


FIELDS = [
    pytest.param(endpoint, field, kind, id=f"{endpoint} {field}")
    for endpoint, (_, _, _, fields) in WRITES.items()
    for field, kind in fields.items()
]


def _path(services: Any, path: str) -> str:
    return path.replace("{ben}", str(services.user_id(BUYER)))


def _refusal(response: httpx.Response, name: str) -> Optional[str]:
    """None when `response` is the 422 naming `name` alone (a field or a parameter)."""
    where = f"{response.status_code} {response.text[:300]}"
    if response.status_code != 422 or response.json()["error"]["code"] != "invalid_request":
        return where
    error = response.json()["error"]
    named = [f["field"] for f in error["fields"]]  # "years", "service_tags.0", "path.user_id"
    if not named or not all(name in n.split(".") for n in named):
        return f"names {named}: {where}"
    if name not in error["message"]:
        return f"the message does not name {name}: {where}"
    return None


@pytest.fixture(scope="module")
def ana(services) -> Iterator[httpx.Client]:
    with services.client(ADMIN) as client:
        yield client


@pytest.mark.parametrize("endpoint,field,kind", FIELDS)
def test_a_field_of_the_wrong_type_is_refused_and_nothing_is_written(
    services, ana, endpoint, field, kind
):
    method, path, body, _ = WRITES[endpoint]
    before = counts(services)
    problems = {}
    for value in _wrong_values(kind):
        response = ana.request(
            method, _path(services, path), json={**body, field: value}, headers=key()
        )
        problem = _refusal(response, field)
        if problem:
            problems[repr(value)] = problem
    assert not problems, problems
    assert counts(services) == before


# --- integers in paths and queries: ASCII digits only --------------------------------------


def spellings(number: int) -> Dict[str, str]:
    """Ways of writing `number` that int() reads and an id must refuse, as sent in a URL."""
    digits = str(number)
    return {
        "plus sign": f"%2B{digits}",
        "leading space": f"%20{digits}",
        "trailing newline": f"{digits}%0A",
        "underscore": f"0_{digits}" if len(digits) == 1 else f"{digits[0]}_{digits[1:]}",
        "arabic-indic digits": "".join(chr(0x660 + int(d)) for d in digits),
        "full-width digits": "".join(chr(0xFF10 + int(d)) for d in digits),
        "decimal point": f"{digits}.0",
        "exponent": f"{digits}e0",
    }


ID_PATHS = [
    # (method, path with {id}, body, id parameter, an id of Acme's that exists)
    pytest.param("PATCH", "/users/{id}", {"role": "shopper"}, "user_id", BUYER, id="PATCH user"),
    pytest.param("POST", "/users/{id}/deactivate", None, "user_id", BUYER, id="deactivate user"),
    pytest.param("POST", "/users/{id}/reactivate", None, "user_id", BUYER, id="reactivate user"),
    pytest.param("GET", "/addresses/{id}", None, "address_id", 1, id="address"),
    pytest.param("GET", "/documents/{id}/link", None, "document_id", 1, id="document link"),
    pytest.param("GET", "/reports/{id}", None, "report_id", 1, id="report"),
    *(
        pytest.param(method, path, body, "handoff_id", 1, id=f"{method} {path}")
        for method, path, body in [
            ("GET", "/handoffs/{id}", None),
            ("POST", "/handoffs/{id}/messages", {"text": "hi"}),
            ("POST", "/handoffs/{id}/cancel", None),
            ("POST", "/handoffs/{id}/service-request", None),
            ("POST", "/desk/handoffs/{id}/claim", None),
            ("GET", "/desk/handoffs/{id}", None),
            ("POST", "/desk/handoffs/{id}/messages", {"text": "hi"}),
            ("POST", "/desk/handoffs/{id}/release", None),
            ("POST", "/desk/handoffs/{id}/close", {"outcome": "resolved"}),
        ]
    ),
]


@pytest.mark.parametrize("method,path,body,param,known", ID_PATHS)
def test_an_id_in_a_path_is_ascii_digits_only(services, ana, method, path, body, param, known):
    number = services.user_id(known) if isinstance(known, str) else known
    before = counts(services)
    problems = {}
    for name, sent in spellings(number).items():
        response = ana.request(method, path.replace("{id}", sent), json=body, headers=key())
        problem = _refusal(response, param)
        if problem:
            problems[name] = problem
    assert not problems, problems
    assert counts(services) == before


def test_the_plain_spelling_of_those_ids_is_found(ana):
    """The counterpart of the walk above: the ids exist, so only the spelling was refused."""
    for path in ("/addresses/1", "/addresses/01", "/documents/1/link", "/orders?days=30"):
        assert ana.get(path).status_code == 200, path


def test_a_number_in_a_query_is_ascii_digits_only(ana):
    problems = {}
    for days in ["+30", " 30", "30 ", "3_0", "\u0663\u0660", "\uff13\uff10", "30.0", "1e1", "true"]:
        problem = _refusal(ana.get("/orders", params={"days": days}), "days")
        if problem:
            problems[days] = problem
    assert not problems, problems


# --- characters that hide or reorder text ---------------------------------------------------

BIDI = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"]  # NUL, bell, escape, DEL, C1
LINE_BREAKS = ["\t", "\n", "\r", "\u2028", "\u2029"]

# Names and labels: (endpoint, field); free text: description and note.
NAMES = [
    ("PATCH /account", "legal_name"),
    ("PATCH /account", "tax_id"),
    ("PATCH /profile", "name"),
    ("PATCH /profile", "job_title"),
    ("POST /addresses", "label"),
    ("POST /addresses", "line1"),
    ("POST /addresses", "city"),
    ("POST /addresses", "region"),
    ("POST /users/invitations", "name"),
    ("POST /sso-requests", "identity_provider"),
    ("POST /me/switch-account", "account"),
]
FREE_TEXT = [("POST /service-requests", "description"), ("POST /sso-requests", "note")]


# Every character on one field of each kind of text, and a sample on every other field.
EVERY_CHARACTER = {("PATCH /account", "legal_name"), ("POST /addresses", "label")}
SAMPLE = ["\u202e", "\u2067", "\x1b", "\x85"]


def _hidden_cases() -> Iterator[Any]:
    for endpoint, field in NAMES:
        every = (endpoint, field) in EVERY_CHARACTER
        chars = BIDI + CONTROLS + LINE_BREAKS if every else SAMPLE + ["\n"]
        yield pytest.param(endpoint, field, chars, id=f"{endpoint} {field}")
    for endpoint, field in FREE_TEXT:
        chars = BIDI + CONTROLS if field == "description" else SAMPLE
        yield pytest.param(endpoint, field, chars, id=f"{endpoint} {field}")


@pytest.mark.parametrize("endpoint,field,chars", list(_hidden_cases()))
def test_hidden_characters_are_refused_in_names_labels_and_text(
    services, ana, endpoint, field, chars
):
    method, path, body, _ = WRITES[endpoint]
    before = counts(services)
    problems = {}
    for char in chars:
        value = f"Acme{char}Northwest"
        response = ana.request(
            method, _path(services, path), json={**body, field: value}, headers=key()
        )
        shown = f"U+{ord(char):04X}"
        problem = _refusal(response, field)
        if problem is None and shown not in response.text:
            problem = f"the message does not say which character: {response.text[:300]}"
        if problem:
            problems[shown] = problem
    assert not problems, problems
    assert counts(services) == before


@pytest.fixture
def sso_requests(services) -> Iterator[List[int]]:
    made: List[int] = []
    yield made
    with Session(services.engine) as session, session.begin():
        session.execute(delete(m.SsoRequest).where(m.SsoRequest.id.in_(made)))


def test_free_text_keeps_its_tabs_and_line_breaks(services, ana, sso_requests):
    note = "Please set up Okta.\n\tTenant: acme\r\nContact: Ana \u2014 gracias"
    response = ana.post(
        "/sso-requests", json={"identity_provider": "Okta", "note": note}, headers=key()
    )
    assert response.status_code == 201, response.text
    sso_requests.append(response.json()["id"])
    with Session(services.engine) as session:
        stored = session.scalar(select(m.SsoRequest.note).filter_by(id=sso_requests[0]))
    assert stored == note


def test_right_to_left_text_without_controls_is_accepted(services, ana, sso_requests):
    """Arabic and Hebrew names are names: only the invisible reordering controls are refused."""
    response = ana.post(
        "/sso-requests",
        json={"identity_provider": "\u0645\u0648\u0641\u0631 \u05e1\u05e4\u05e7 \u200fIdP"},
        headers=key(),
    )
    assert response.status_code == 201, response.text
    sso_requests.append(response.json()["id"])


# --- the walks cover the whole published contract ------------------------------------------

# The operation each walked endpoint is, where its path above is a concrete one.
OPERATION_PATHS = {
    "PATCH /users/{ben}": "/users/{user_id}",
    "POST /invoices/{n}/payments": "/invoices/{invoice_number}/payments",
    "POST /handoffs/{h}/messages": "/handoffs/{handoff_id}/messages",
    "POST /desk/handoffs/{h}/messages": "/desk/handoffs/{handoff_id}/messages",
    "POST /desk/handoffs/{h}/close": "/desk/handoffs/{handoff_id}/close",
}


# Bodies sent without a person's token: the demo sign-in, and the Slack app's link exchange
# (with its own credential): (method, path, a valid body, the headers it needs).
SIGN_INS = [
    ("POST", "/demo/sign-in", {"email": "ana.admin@acme.example"}, {}),
    (
        "POST",
        "/slack/token",
        {"team_id": "T0ACME", "user_id": "U0ANA"},
        {"Authorization": f"Bearer {TEST_SLACK_SERVICE_SECRET}"},
    ),
]


@pytest.mark.parametrize("method, path, body, headers", SIGN_INS, ids=lambda v: str(v)[:20])
def test_sign_in_bodies_are_strict_too(services, method, path, body, headers):
    with httpx.Client(base_url=services.base_url, headers=headers, timeout=30) as client:
        assert client.request(method, path, json=body).status_code == 200
        for field in body:
            for value in (1, 1.5, True, [body[field]], {"x": 1}, None):
                response = client.request(method, path, json={**body, field: value})
                assert _refusal(response, field) is None, (field, value)


def test_the_walks_cover_every_write_body_and_every_id_in_a_path(services):
    """A write body, a field or an integer path parameter added later must join the walks."""
    doc = httpx.get(f"{services.base_url}/openapi.json").json()
    bodies: Dict[Tuple[str, str], set] = {}
    ids = set()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                bodies[(method.upper(), path)] = set(
                    doc["components"]["schemas"][name]["properties"]
                )
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                    ids.add((method.upper(), path))
    walked = {
        (method, OPERATION_PATHS.get(endpoint, path)): set(fields)
        for endpoint, (method, path, _, fields) in WRITES.items()
    }
    walked.update({(method, path): set(body) for method, path, body, _ in SIGN_INS})
    assert walked == bodies
    walked_ids = {
        (p.values[0], p.values[1].replace("{id}", f"{{{p.values[3]}}}")) for p in ID_PATHS
    }
    assert walked_ids == ids, "an integer id in a path is an s.Id, walked in ID_PATHS"
