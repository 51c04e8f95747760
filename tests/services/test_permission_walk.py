"""The whole permission table walked over HTTP, for every demo person in every account.

For each (person, account, capability) the expected decision comes from
`load_table().decide` on a Subject built from the demo world as DESIGN.md describes
it (hand-written below, not read from the seed), and is cross-checked against a
hand-written list of the key cases. Each capability has one probe request that
reaches its endpoint without changing anything when allowed: a read, a quote, an
unknown object id (404 after the permission check) or a body that fails
validation (422 after the permission check).
"""

from __future__ import annotations

import inspect
import re
import uuid
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Tuple

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tokens
from bot.policy import Subject, load_table
from bot.services import models as m
from bot.services.app import create_app
from tests.conftest import TEST_SIGNING_KEY, settings_for_tests

TABLE = load_table()

# --- the demo world, as DESIGN.md states it ------------------------------------------------

ACME, GLOBEX, INITECH, HOME = "Acme Corporation", "Globex México", "Initech GmbH", "Hannah Home"
SHORT = {ACME: "Acme", GLOBEX: "Globex", INITECH: "Initech", HOME: "HannahHome", None: "none"}
BILLING = frozenset({"billing_report_enabled"})
REPORTING = frozenset({"reporting_access"})


@dataclass(frozen=True)
class AccountFacts:
    type: str
    country: str
    settings: FrozenSet[str]
    site_admins: Tuple[Tuple[str, str], ...]  # (name, email), as the 403 body lists them


ACCOUNTS: Dict[str, AccountFacts] = {
    ACME: AccountFacts("Premier", "US", BILLING, (("Ana Álvarez", "ana.admin@acme.example"),)),
    GLOBEX: AccountFacts(
        "Premier", "MX", BILLING, (("Diego Domínguez", "diego.admin@globex.example"),)
    ),
    INITECH: AccountFacts("Business", "DE", frozenset(), ()),
    HOME: AccountFacts("Home", "US", frozenset(), ()),
}


@dataclass(frozen=True)
class Person:
    email: str
    roles: Dict[Optional[str], str]  # account name (None: no account) -> role there
    flags: FrozenSet[str] = frozenset()


PEOPLE: Dict[str, Person] = {
    "ana": Person("ana.admin@acme.example", {ACME: "site_admin"}, REPORTING),
    "ben": Person("ben.buyer@acme.example", {ACME: "buyer"}),
    "sara": Person("sara.shopper@acme.example", {ACME: "shopper"}),
    "diego": Person("diego.admin@globex.example", {GLOBEX: "site_admin", ACME: "buyer"}, REPORTING),
    "lena": Person("lena.buyer@initech.example", {INITECH: "buyer"}),
    "hannah": Person("hannah@home.example", {HOME: "buyer"}),
    "eve": Person("eve.rep@vendor.example", {ACME: "account_team", GLOBEX: "account_team"}),
    "sam": Person("sam.agent@vendor.example", {None: "support_agent"}),
}

SEATS: List[Tuple[str, Optional[str]]] = [
    (person, account) for person, facts in PEOPLE.items() for account in facts.roles
]


def subject(person: str, account: Optional[str]) -> Subject:
    facts = PEOPLE[person]
    if account is None:
        return Subject(role=facts.roles[None], user_flags=facts.flags)
    where = ACCOUNTS[account]
    return Subject(
        role=facts.roles[account],
        user_flags=facts.flags,
        account_type=where.type,
        country=where.country,
        account_settings=where.settings,
    )


def contacts(account: Optional[str]) -> List[Dict[str, str]]:
    if account is None:
        return []
    return [{"name": n, "email": e} for n, e in ACCOUNTS[account].site_admins]


PUBLIC = frozenset(n for n, c in TABLE.capabilities.items() if c.public)

# --- the key cases from DESIGN.md, by hand: (person, account, capability) -> reason ----------
# None means allowed.

KEY_CASES: Dict[Tuple[str, Optional[str], str], Optional[str]] = {
    ("sara", ACME, "renew_service_contract"): "role",
    ("sara", ACME, "upgrade_service_contract"): "role",
    ("sara", ACME, "pay_invoice"): "role",
    ("sara", ACME, "list_users"): "role",
    ("sara", ACME, "list_reports"): "user_flag",
    ("sara", ACME, "reorder"): None,
    ("sara", ACME, "show_invoices"): None,
    ("diego", GLOBEX, "list_subscriptions"): "country",
    ("diego", GLOBEX, "list_service_contracts"): "country",
    ("diego", GLOBEX, "renew_service_contract"): "country",
    ("diego", GLOBEX, "pay_invoice"): None,
    ("diego", GLOBEX, "list_users"): None,
    ("diego", ACME, "list_users"): "role",
    ("diego", ACME, "pay_invoice"): None,
    ("diego", ACME, "list_reports"): None,
    ("diego", ACME, "list_subscriptions"): None,
    ("lena", INITECH, "show_invoices"): "account_setting",
    ("lena", INITECH, "pay_invoice"): "account_setting",
    ("lena", INITECH, "list_subscriptions"): "country",
    ("lena", INITECH, "renew_service_contract"): None,
    ("hannah", HOME, "show_invoices"): "account_type",
    ("hannah", HOME, "pay_invoice"): "account_type",
    ("hannah", HOME, "list_users"): "account_type",
    ("hannah", HOME, "list_service_contracts"): "account_type",
    ("hannah", HOME, "list_subscriptions"): None,
    ("hannah", HOME, "reorder"): None,
    ("ben", ACME, "list_reports"): "user_flag",
    ("ben", ACME, "generate_report"): "user_flag",
    ("ben", ACME, "pay_invoice"): None,
    ("ben", ACME, "list_users"): "role",
    ("ana", ACME, "list_reports"): None,
    ("ana", ACME, "update_company"): None,
    ("eve", ACME, "pay_invoice"): "role",
    ("eve", ACME, "reorder"): "role",
    ("eve", ACME, "list_reports"): "role",
    ("eve", ACME, "show_profile"): "role",
    ("eve", ACME, "list_recent_orders"): None,
    ("eve", ACME, "order_status"): None,
    ("eve", ACME, "show_invoices"): None,
    ("eve", ACME, "list_service_contracts"): None,
    ("eve", GLOBEX, "list_service_contracts"): "country",
    ("eve", GLOBEX, "list_recent_orders"): None,
    **{("sam", None, name): (None if name in PUBLIC else "role") for name in TABLE.capabilities},
    **{
        (person, account, name): None
        for person, account in SEATS
        for name in ("help", "greet", "support_contact")
    },
}

# --- one probe per capability -------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    json: Optional[Dict[str, Any]] = None
    allowed_status: int = 200  # what an allowed caller gets; nothing changes either way


NO_SUCH_TAG = "ZZ9ZZ99"
PROBES: Dict[str, Probe] = {
    # Public: the assistant answers help and greet itself; the services' public endpoints.
    "help": Probe("GET", "/health"),
    "greet": Probe("GET", "/health"),
    "support_contact": Probe("GET", "/support-contacts"),
    "account_info": Probe("GET", "/account"),
    "switch_account": Probe("POST", "/me/switch-account", {"account": "No Such Account Ltd"}, 404),
    "list_users": Probe("GET", "/users"),
    "invite_user": Probe(
        "POST", "/users/invitations", {"email": "not an email", "role": "buyer"}, 422
    ),
    "change_user_role": Probe("PATCH", "/users/2147483000", {"role": "buyer"}, 404),
    "deactivate_user": Probe("POST", "/users/2147483000/deactivate", None, 404),
    "reactivate_user": Probe("POST", "/users/2147483000/reactivate", None, 404),
    "request_sso": Probe("POST", "/sso-requests", {"identity_provider": "x"}, 422),
    "show_quotes": Probe("GET", "/quotes"),
    "list_recent_orders": Probe("GET", "/orders"),
    "order_status": Probe("GET", "/orders/999999999", None, 404),
    "view_cart": Probe("GET", "/cart"),
    "reorder": Probe("POST", "/cart/reorder", {"order_number": "999999999"}, 404),
    "show_invoices": Probe("GET", "/invoices"),
    "invoice_details": Probe("GET", "/invoices/INV-99999999", None, 404),
    "download_invoice": Probe("GET", "/invoices/INV-99999999/pdf", None, 404),
    "pay_invoice": Probe("POST", "/invoices/INV-99999999/payments", {"payment_method_id": 1}, 404),
    "list_service_contracts": Probe("GET", "/contracts"),
    "renew_service_contract": Probe(
        "POST",
        "/contracts/renewal-quotes",
        {"service_tags": [NO_SUCH_TAG], "plan": "prosupport", "years": 1},
        404,
    ),
    "upgrade_service_contract": Probe(
        "POST",
        "/contracts/upgrade-quotes",
        {"service_tags": [NO_SUCH_TAG], "plan": "prosupport_plus"},
        404,
    ),
    "list_subscriptions": Probe("GET", "/subscriptions"),
    "show_account_team": Probe("GET", "/account-team"),
    "list_documents": Probe("GET", "/documents"),
    "support_history": Probe("GET", "/service-requests"),
    "service_request_status": Probe("GET", "/service-requests/9999999999", None, 404),
    "open_service_request": Probe(
        "POST",
        "/service-requests",
        {"service_tag": NO_SUCH_TAG, "description": "permission walk probe"},
        404,
    ),
    "list_reports": Probe("GET", "/reports"),
    "generate_report": Probe(
        "POST",
        "/reports",
        {"type": "spend", "starts_on": "2025-06-30", "ends_on": "2025-01-01"},
        422,
    ),
    "list_devices": Probe("GET", "/devices"),
    "check_warranty": Probe("GET", f"/devices/{NO_SUCH_TAG}", None, 404),
    "show_profile": Probe("GET", "/profile"),
    "update_profile": Probe("PATCH", "/profile", {}, 422),
    "show_addresses": Probe("GET", "/addresses"),
    "add_address": Probe(
        "POST",
        "/addresses",
        {
            "label": "Probe",
            "line1": "1 Probe St",
            "city": "Austin",
            "postal_code": "78701",
            "country": "usa",
        },
        422,
    ),
    "update_company": Probe("PATCH", "/account", {}, 422),
    "list_payment_methods": Probe("GET", "/payment-methods"),
    "list_quick_checkout": Probe("GET", "/quick-checkout"),
    "request_human": Probe("GET", "/handoffs/current?conversation_id=permwalk", None, 404),
    "handoff_desk": Probe("GET", "/desk/queue"),
}
KEY_PREFIX = "permwalk-"
# Staff's own tools hold no account data: the services check their roles only (require_staff),
# while `decide` refuses anyone without an account.
STAFF_TOOLS = {"handoff_desk"}

# --- the routes, read from the app itself (no server needed) --------------------------------

_SETTINGS = settings_for_tests(DATABASE_URL="sqlite://")
ROUTES: List[APIRoute] = [
    r
    for r in create_app(_SETTINGS, engine=sa_create_engine("sqlite://")).routes
    if isinstance(r, APIRoute)
]
# Reachable without a token: health, regional support contacts, signed download links.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/health/ready"),  # readiness: whether the database answers, nothing more
    ("GET", "/support-contacts"),
    ("GET", "/downloads/{token}"),
    # the demo portal's sign-in (404 in production: tests/portal/)
    ("GET", "/demo/people"),
    ("POST", "/demo/sign-in"),
}
SAMPLE_PATH_VALUES = {
    "invoice_number": "INV-10000001",
    "order_number": "100000001",
    "service_tag": "7XK2M93",
    "contract_number": "SC-10000001",
    "number": "1000000001",
    "user_id": "1",
    "address_id": "1",
    "document_id": "1",
    "report_id": "1",
    "capability": "account_info",
    "token": "x",
    "handoff_id": "1",
}


def _capabilities(route: APIRoute) -> set:
    """The capabilities a route's `require(...)` dependencies check."""
    found = set()

    def walk(dependant: Any) -> None:
        call = dependant.call
        if call is not None and getattr(call, "__closure__", None):
            captured = inspect.getclosurevars(call).nonlocals
            if "capability" in captured:
                found.add(captured["capability"])
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def _route_for(method: str, path: str) -> APIRoute:
    path = path.split("?", 1)[0]
    for route in ROUTES:
        if method in route.methods and route.path_regex.match(path):
            return route
    raise AssertionError(f"no route serves {method} {path}")


def _endpoints() -> List[Tuple[str, str]]:
    return sorted({(method, r.path) for r in ROUTES for method in r.methods})


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seat_client(services) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """One httpx.Client per (person, account) for this backend, reused across the walk."""
    cache: Dict[Tuple[str, Optional[str]], httpx.Client] = {}

    def get(person: str, account: Optional[str]) -> httpx.Client:
        if (person, account) not in cache:
            cache[(person, account)] = services.client(PEOPLE[person].email, account)
        return cache[(person, account)]

    yield get
    for client in cache.values():
        client.close()


@pytest.fixture(scope="module")
def anonymous(services) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with services.client() as client:
        yield client


def send(client: httpx.Client, probe: Probe) -> httpx.Response:
    headers = {}
    if probe.method != "GET":
        headers["Idempotency-Key"] = f"{KEY_PREFIX}{uuid.uuid4().hex}"
    return client.request(probe.method, probe.path, json=probe.json, headers=headers)


# --- the tables themselves ------------------------------------------------------------------


def test_every_capability_has_a_probe():
    assert set(PROBES) == set(TABLE.capabilities)


@pytest.mark.parametrize("capability", sorted(PROBES))
def test_probe_reaches_the_capabilitys_endpoint(capability):
    probe = PROBES[capability]
    route = _route_for(probe.method, probe.path)
    if capability in PUBLIC:
        assert (probe.method, route.path) in PUBLIC_ROUTES
        assert not _capabilities(route)
    else:
        assert _capabilities(route) == {capability}
    if TABLE.capability(capability).write:
        assert probe.method != "GET"
        assert probe.allowed_status in (404, 422) or route.path.endswith("-quotes"), (
            "a write probe must fail after the permission check, or be a quote"
        )


def test_every_capability_checked_by_a_route_is_in_the_table():
    checked = set().union(*(_capabilities(r) for r in ROUTES))
    assert checked <= set(TABLE.capabilities)
    # Every non-public capability of the table is enforced by at least one route.
    assert set(TABLE.capabilities) - PUBLIC <= checked


@pytest.mark.parametrize(
    "person, account, capability, reason",
    [pytest.param(p, a, c, r, id=f"{p}-{SHORT[a]}-{c}") for (p, a, c), r in KEY_CASES.items()],
)
def test_key_cases_agree_with_the_table(person, account, capability, reason):
    decision = TABLE.decide(capability, subject(person, account))
    assert (decision.reason.value if decision.reason else None) == reason
    assert decision.allowed == (reason is None)


def test_the_demo_world_is_as_designed(services):  # type: ignore[no-untyped-def]
    """The facts this module builds Subjects from match what the seed wrote."""
    with Session(services.engine) as session:
        for name, facts in ACCOUNTS.items():
            account = session.scalar(select(m.Account).filter_by(name=name))
            assert (account.type, account.country, account.settings) == (
                facts.type,
                facts.country,
                facts.settings,
            )
        for person, facts in PEOPLE.items():
            user = session.scalar(select(m.User).filter_by(email=facts.email))
            assert user.flags == facts.flags
            roles = {
                ms.account.name: ms.role
                for ms in session.scalars(
                    select(m.Membership).filter_by(user_id=user.id, status="active")
                )
            }
            assert roles == ({} if None in facts.roles else facts.roles), person
            if None in facts.roles:
                assert user.staff_role == facts.roles[None]


# --- the walk -------------------------------------------------------------------------------

WALK = [
    pytest.param(person, account, capability, id=f"{person}-{SHORT[account]}-{capability}")
    for person, account in SEATS
    for capability in TABLE.capabilities
]


@pytest.mark.parametrize("person, account, capability", WALK)
def test_walk(services, seat_client, person, account, capability):  # type: ignore[no-untyped-def]
    expected = TABLE.decide(capability, subject(person, account))
    staff_tool = (
        capability in STAFF_TOOLS
        and PEOPLE[person].roles[account] in TABLE.capability(capability).roles
    )
    if (person, account, capability) in KEY_CASES:
        want = KEY_CASES[(person, account, capability)]
        assert (expected.reason.value if expected.reason else None) == want

    client = seat_client(person, account)
    probe = PROBES[capability]
    response = send(client, probe)
    if expected.allowed or staff_tool:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code == probe.allowed_status, response.text
    else:
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert error["reason"] == expected.reason.value
        assert error["capability"] == capability
        assert error["required"] == list(expected.required)
        assert error["contacts"] == contacts(account)

    if probe.method != "GET":  # the walk changes nothing: no write went through
        key = response.request.headers["Idempotency-Key"]
        with Session(services.engine) as session:
            assert session.scalar(select(m.IdempotencyRecord).filter_by(key=key)) is None

    decided = client.get(f"/me/decisions/{capability}")
    assert decided.status_code == 200, decided.text
    assert decided.json() == expected.as_dict()


@pytest.mark.parametrize(
    "person, account", [pytest.param(p, a, id=f"{p}-{SHORT[a]}") for p, a in SEATS]
)
def test_me_lists_what_the_walk_allows(seat_client, person, account):  # type: ignore[no-untyped-def]
    me = seat_client(person, account).get("/me")
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["role"] == PEOPLE[person].roles[account]
    assert (body["account"] or {}).get("name") == account
    assert body["capabilities"] == list(TABLE.allowed(subject(person, account)))


# --- anonymous ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        pytest.param(method, path, id=f"{method} {path}")
        for method, path in _endpoints()
        if (method, path) not in PUBLIC_ROUTES
    ],
)
def test_anonymous_is_refused_every_non_public_endpoint(anonymous, method, path):
    concrete = re.sub(r"\{(\w+)\}", lambda m_: SAMPLE_PATH_VALUES[m_.group(1)], path)
    body = None if method in ("GET", "DELETE") else {}
    response = anonymous.request(
        method, concrete, json=body, headers={"Idempotency-Key": f"{KEY_PREFIX}anonymous"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("capability", sorted(PROBES))
def test_anonymous_probe(anonymous, capability):
    response = send(anonymous, PROBES[capability])
    if capability in PUBLIC:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 401, response.text


def test_support_contacts_work_anonymously(anonymous):
    response = anonymous.get("/support-contacts")
    assert response.status_code == 200, response.text
    assert sorted(c["region"] for c in response.json()) == ["APJ", "Americas", "EMEA"]
    emea = anonymous.get("/support-contacts", params={"region": "emea"})
    assert emea.status_code == 200
    assert [c["region"] for c in emea.json()] == ["EMEA"]


@pytest.mark.parametrize("capability", ["account_info", "help", "pay_invoice"])
def test_anonymous_cannot_ask_for_decisions(anonymous, capability):
    assert anonymous.get(f"/me/decisions/{capability}").status_code == 401


# --- accounts a token cannot name -----------------------------------------------------------


def _minted(services, email: str, account: str) -> Dict[str, str]:  # type: ignore[no-untyped-def]
    token = tokens.mint_token(
        TEST_SIGNING_KEY,
        user_id=services.user_id(email),
        account_id=services.account_id(account),
        channel="test",
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "path",
    [
        "/me",
        "/account",
        "/orders",
        "/invoices",
        "/devices",
        "/service-requests",
        "/documents",
        "/me/decisions/account_info",
    ],
)
def test_eve_cannot_name_initech(services, path):  # type: ignore[no-untyped-def]
    headers = _minted(services, PEOPLE["eve"].email, INITECH)
    with services.client() as client:
        response = client.get(path, headers=headers)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


def test_eve_cannot_switch_to_initech(seat_client):  # type: ignore[no-untyped-def]
    eve = seat_client("eve", ACME)
    me = eve.get("/me").json()
    assert sorted(a["name"] for a in me["accounts"]) == sorted([ACME, GLOBEX])
    response = eve.post("/me/switch-account", json={"account": INITECH})
    assert response.status_code == 404, response.text
    assert INITECH not in response.json()["error"].get("options", [])


@pytest.mark.parametrize("account", [ACME, GLOBEX], ids=["Acme", "Globex"])
@pytest.mark.parametrize(
    "path",
    [
        "/orders/300000001",
        "/invoices/INV-30000001",
        "/devices/DE5T9W1",
        "/service-requests/3000000001",
    ],
)
def test_eve_sees_initech_objects_as_not_found(seat_client, account, path):  # type: ignore[no-untyped-def]
    response = seat_client("eve", account).get(path)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "person, account",
    [
        pytest.param("sara", GLOBEX, id="sara-Globex"),
        pytest.param("ana", INITECH, id="ana-Initech"),
        pytest.param("lena", ACME, id="lena-Acme"),
        pytest.param("hannah", ACME, id="hannah-Acme"),
        pytest.param("diego", INITECH, id="diego-Initech"),
        pytest.param("diego", HOME, id="diego-HannahHome"),
        pytest.param("eve", INITECH, id="eve-Initech"),
        pytest.param("eve", HOME, id="eve-HannahHome"),
        pytest.param("sam", ACME, id="sam-Acme"),
    ],
)
def test_token_for_an_account_the_user_is_not_in_is_refused(services, person, account):  # type: ignore[no-untyped-def]
    headers = _minted(services, PEOPLE[person].email, account)
    with services.client() as client:
        for path in ("/me", "/account", "/support-contacts"):
            response = client.get(path, headers=headers)
            if path == "/support-contacts":
                assert response.status_code == 200  # public: the token is not even read
                continue
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "unauthorized"


def test_signed_in_customer_without_an_account_is_not_told_to_sign_in(services):  # type: ignore[no-untyped-def]
    token = tokens.mint_token(
        TEST_SIGNING_KEY,
        user_id=services.user_id(PEOPLE["ana"].email),
        account_id=None,
        channel="test",
    )
    with services.client() as client:
        response = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (401, 403), response.text
    if response.status_code == 403:
        assert response.json()["error"]["reason"] != "not_signed_in"


def test_token_for_a_nonexistent_account_is_refused(services):  # type: ignore[no-untyped-def]
    token = tokens.mint_token(
        TEST_SIGNING_KEY,
        user_id=services.user_id(PEOPLE["ana"].email),
        account_id=2_000_000_000,
        channel="test",
    )
    with services.client() as client:
        response = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
