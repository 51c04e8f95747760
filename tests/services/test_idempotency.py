"""Every write acts once per Idempotency-Key, is audited once, and a failed write frees its key.

Each write endpoint has a builder that prepares a fresh request (fresh objects
where the effect is one-shot), says how to read the state the write changes, and
what that state must be after acting exactly once. The demo world is shared by the
whole session, so the builders read the state they start from instead of assuming it.

One-shot objects used here (each backend has its own world): Acme's INV-10000004
and INV-10000005, Globex's INV-20000002 and INV-20000003, and the contracts that can
still be upgraded; users are invited by the test that changes them.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.conftest import AuditLog

ACME, GLOBEX, INITECH = "Acme Corporation", "Globex México", "Initech GmbH"
ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"
SARA = "sara.shopper@acme.example"
DIEGO = "diego.admin@globex.example"
LENA = "lena.buyer@initech.example"
CONTRACT_CALLERS = {ACME: (ANA, "site_admin"), INITECH: (LENA, "buyer")}
CONCURRENT_REPEATS = 5


def new_key() -> str:
    return f"idem-{uuid.uuid4()}"


@dataclass
class Call:
    """One write request, and how to tell whether it acted exactly once."""

    email: str
    account: str
    role: str
    method: str
    path: str
    body: Optional[Dict[str, Any]]
    status: int  # the status of success
    effect: Callable[[], Any]  # reads the state this write changes
    expect: Callable[[Any], Any]  # the state after acting once, given the state before
    other_path: Optional[str] = None  # a different request, for reusing a key
    other_body: Optional[Dict[str, Any]] = None
    cleanup: Optional[Callable[[], None]] = None  # puts shared demo data back

    def send(self, services: Any, key: Optional[str], *, other: bool = False) -> httpx.Response:
        headers = services.headers(self.email, self.account)
        if key is not None:
            headers["Idempotency-Key"] = key
        path, body = (
            (self.other_path or self.path, self.other_body) if other else (self.path, self.body)
        )
        with httpx.Client(base_url=services.base_url, timeout=60) as client:
            return client.request(self.method, path, headers=headers, json=body)


# --- reading the database ---------------------------------------------------------------


def scalar(services: Any, query: Any) -> Any:
    with Session(services.engine) as session:
        return session.scalar(query)


def count(services: Any, model: Any, **where: Any) -> int:
    return int(scalar(services, select(func.count()).select_from(model).filter_by(**where)))


def database_state(services: Any) -> Dict[str, List[tuple]]:
    """Every row of every table (the audit log and idempotency records included).

    Read once the audit log is quiet: a probe's row lands a little after its answer,
    and one queued by an earlier test must not count as this test's write (nor may
    a row this test's request queued be missed).
    """
    AuditLog(services).settle()
    state = {}
    with services.engine.connect() as connection:
        for table in m.Base.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            state[table.name] = [tuple(row) for row in connection.execute(query)]
    return state


def tables_changed(services: Any, since: Dict[str, List[tuple]]) -> List[str]:
    """The tables whose rows differ from an earlier `database_state` (a short failure)."""
    now = database_state(services)
    return [name for name in now if now[name] != since.get(name)]


def audited(services: Any, call: Call, capability: str, key: str) -> List[m.AuditEvent]:
    rows = []
    with Session(services.engine) as session:
        for event in session.scalars(
            select(m.AuditEvent).filter_by(user_id=services.user_id(call.email), action=capability)
        ):
            if (event.detail or {}).get("idempotency_key") == key:
                rows.append(event)
    return rows


def idempotency_records(services: Any, email: str, key: str) -> int:
    return count(services, m.IdempotencyRecord, user_id=services.user_id(email), key=key)


def without_replayed(body: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in body.items() if k != "replayed"}


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


# --- fresh objects ----------------------------------------------------------------------


def invite_user(services: Any) -> int:
    """A user freshly invited to Acme by Ana; returns their id."""
    with services.client(ANA, ACME) as client:
        response = client.post(
            "/users/invitations",
            headers={"Idempotency-Key": new_key()},
            json={"email": f"temp-{uuid.uuid4().hex[:12]}@acme.example", "role": "shopper"},
        )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def membership(services: Any, user_id: int) -> m.Membership:
    with Session(services.engine) as session:
        ms = session.scalar(
            select(m.Membership).filter_by(user_id=user_id, account_id=services.account_id(ACME))
        )
        session.expunge(ms)
        return ms


def card_ids(services: Any, account: str) -> List[int]:
    with Session(services.engine) as session:
        return list(
            session.scalars(
                select(m.PaymentMethod.id)
                .filter_by(account_id=services.account_id(account))
                .order_by(m.PaymentMethod.id)
            )
        )


def invoice_state(services: Any, number: str) -> Tuple[int, bool]:
    """(payments of the invoice, whether it is marked paid)."""
    with Session(services.engine) as session:
        invoice = session.scalar(select(m.Invoice).filter_by(number=number))
        payments = session.scalar(
            select(func.count()).select_from(m.Payment).filter_by(invoice_id=invoice.id)
        )
        return int(payments), invoice.paid_at is not None


def contract_of(services: Any, tag: str) -> m.ServiceContract:
    with Session(services.engine) as session:
        contract = session.scalar(
            select(m.ServiceContract).join(m.Device).where(m.Device.service_tag == tag)
        )
        session.expunge(contract)
        return contract


def upgradeable_contract(services: Any) -> Tuple[str, str, str]:
    """(account, service tag, next plan up) of a live contract that can still go up a plan."""
    today = dt.date.today()
    with Session(services.engine) as session:
        plans = {p.rank: p.code for p in session.scalars(select(m.ContractPlan))}
        for account in CONTRACT_CALLERS:
            contracts = session.scalars(
                select(m.ServiceContract)
                .filter_by(account_id=services.account_id(account))
                .order_by(m.ServiceContract.id)
            )
            for contract in contracts:
                up = plans.get(contract.plan.rank + 1)
                if up and contract.ends_on >= today:
                    return account, contract.device.service_tag, up
    pytest.fail("no service contract in Acme or Initech can still be upgraded")


# --- the writes -------------------------------------------------------------------------


def reorder(sv: Any, purpose: str) -> Call:
    order = "100000002"
    with Session(sv.engine) as session:
        lines = len(session.scalar(select(m.Order).filter_by(number=order)).lines)
    return Call(
        SARA,
        ACME,
        "shopper",
        "POST",
        "/cart/reorder",
        {"order_number": order},
        200,
        effect=lambda: count(
            sv, m.CartItem, user_id=sv.user_id(SARA), account_id=sv.account_id(ACME)
        ),
        expect=lambda before: before + lines,
        other_body={"order_number": "100000003"},
    )


PAYMENTS = {  # purpose -> who pays which unpaid invoice
    "repeat": (ANA, ACME, "INV-10000004"),
    "reuse": (ANA, ACME, "INV-10000005"),
    "concurrent": (DIEGO, GLOBEX, "INV-20000002"),
    "no_key": (DIEGO, GLOBEX, "INV-20000003"),
}


def pay_invoice(sv: Any, purpose: str) -> Call:
    email, account, number = PAYMENTS[purpose]
    cards = card_ids(sv, account)
    if purpose != "no_key":
        assert invoice_state(sv, number) == (0, False), f"{number} was paid by another test"
    return Call(
        email,
        account,
        "site_admin",
        "POST",
        f"/invoices/{number}/payments",
        {"payment_method_id": cards[0]},
        200,
        effect=lambda: invoice_state(sv, number),
        expect=lambda before: (before[0] + 1, True),
        other_body={"payment_method_id": cards[-1]},  # Acme has two cards
    )


def renew_contracts(sv: Any, purpose: str) -> Call:
    email, role, tag = (
        (BEN, "buyer", "9QW4T72") if purpose == "concurrent" else (ANA, "site_admin", "7XK2M93")
    )
    plan = contract_of(sv, tag).plan_code  # renew on the plan it has

    def effect() -> Tuple[int, dt.date, str]:
        contract = contract_of(sv, tag)
        return (
            count(sv, m.ContractChange, account_id=sv.account_id(ACME), kind="renewal"),
            contract.ends_on,
            contract.plan_code,
        )

    return Call(
        email,
        ACME,
        role,
        "POST",
        "/contracts/renewals",
        {"service_tags": [tag], "plan": plan, "years": 1},
        201,
        effect=effect,
        expect=lambda before: (before[0] + 1, add_years(max(before[1], dt.date.today()), 1), plan),
        other_body={"service_tags": [tag], "plan": plan, "years": 2},
    )


def upgrade_contracts(sv: Any, purpose: str) -> Call:
    account, tag, plan = upgradeable_contract(sv)
    email, role = CONTRACT_CALLERS[account]

    def effect() -> Tuple[int, str, dt.date]:
        contract = contract_of(sv, tag)
        return (
            count(sv, m.ContractChange, account_id=sv.account_id(account), kind="upgrade"),
            contract.plan_code,
            contract.ends_on,
        )

    return Call(
        email,
        account,
        role,
        "POST",
        "/contracts/upgrades",
        {"service_tags": [tag], "plan": plan},
        201,
        effect=effect,
        expect=lambda before: (before[0] + 1, plan, before[2]),
        other_body={
            "service_tags": [tag],
            "plan": "prosupport_plus" if plan != "prosupport_plus" else "prosupport",
        },
    )


def open_service_request(sv: Any, purpose: str) -> Call:
    marker = uuid.uuid4().hex[:8]
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/service-requests",
        {"service_tag": "7xk-2m93", "description": f"Keyboard stops responding ({marker})"},
        201,
        effect=lambda: count(sv, m.ServiceRequest, account_id=sv.account_id(ACME)),
        expect=lambda before: before + 1,
        other_body={"service_tag": "7XK2M93", "description": f"Keyboard is fine ({marker})"},
    )


def add_address(sv: Any, purpose: str) -> Call:
    body = {
        "label": f"Dock {uuid.uuid4().hex[:8]}",
        "kind": "shipping",
        "line1": "500 Dock Rd",
        "city": "Austin",
        "region": "TX",
        "postal_code": "78701",
        "country": "US",
    }
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/addresses",
        body,
        201,
        effect=lambda: count(sv, m.Address, account_id=sv.account_id(ACME)),
        expect=lambda before: before + 1,
        other_body={**body, "city": "Round Rock"},
    )


def _restore(sv: Any, email: str, account: str, path: str, body: Dict[str, Any]) -> None:
    with sv.client(email, account) as client:
        response = client.patch(path, headers={"Idempotency-Key": new_key()}, json=body)
    assert response.status_code == 200, response.text


def update_profile(sv: Any, purpose: str) -> Call:
    original = scalar(sv, select(m.User.job_title).filter_by(email=BEN))
    title = f"Buyer {uuid.uuid4().hex[:8]}"
    return Call(
        BEN,
        ACME,
        "buyer",
        "PATCH",
        "/profile",
        {"job_title": title},
        200,
        effect=lambda: scalar(sv, select(m.User.job_title).filter_by(email=BEN)),
        expect=lambda before: title,
        other_body={"job_title": f"{title} (other)"},
        cleanup=lambda: _restore(sv, BEN, ACME, "/profile", {"job_title": original}),
    )


def update_company(sv: Any, purpose: str) -> Call:
    original = scalar(sv, select(m.Account.tax_id).filter_by(name=GLOBEX))
    tax_id = f"TAX-{uuid.uuid4().hex[:8]}"
    return Call(
        DIEGO,
        GLOBEX,
        "site_admin",
        "PATCH",
        "/account",
        {"tax_id": tax_id},
        200,
        effect=lambda: scalar(sv, select(m.Account.tax_id).filter_by(name=GLOBEX)),
        expect=lambda before: tax_id,
        other_body={"tax_id": f"{tax_id}-2"},
        cleanup=lambda: _restore(sv, DIEGO, GLOBEX, "/account", {"tax_id": original}),
    )


def invite(sv: Any, purpose: str) -> Call:
    email = f"new-{uuid.uuid4().hex[:12]}@acme.example"
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/users/invitations",
        {"email": email, "role": "shopper", "name": "New Person"},
        201,
        effect=lambda: (
            count(sv, m.User, email=email),
            count(sv, m.Membership, account_id=sv.account_id(ACME)),
        ),
        expect=lambda before: (1, before[1] + 1),
        other_body={"email": email, "role": "buyer", "name": "New Person"},
    )


def change_role(sv: Any, purpose: str) -> Call:
    user_id = invite_user(sv)
    return Call(
        ANA,
        ACME,
        "site_admin",
        "PATCH",
        f"/users/{user_id}",
        {"role": "buyer"},
        200,
        effect=lambda: membership(sv, user_id).role,
        expect=lambda before: "buyer",
        other_body={"role": "site_admin"},
    )


def deactivate(sv: Any, purpose: str) -> Call:
    user_id = invite_user(sv)
    other_path = f"/users/{invite_user(sv)}/deactivate" if purpose == "reuse" else None
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        f"/users/{user_id}/deactivate",
        None,
        200,
        effect=lambda: membership(sv, user_id).status,
        expect=lambda before: "deactivated",
        other_path=other_path,
    )


def request_sso(sv: Any, purpose: str) -> Call:
    note = f"Please connect our Okta tenant ({uuid.uuid4().hex[:8]})"
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/sso-requests",
        {"identity_provider": "Okta", "note": note},
        201,
        effect=lambda: count(sv, m.SsoRequest, account_id=sv.account_id(ACME)),
        expect=lambda before: before + 1,
        other_body={"identity_provider": "Azure AD", "note": note},
    )


def generate_report(sv: Any, purpose: str) -> Call:
    today = dt.date.today()
    body = {
        "type": "spend",
        "starts_on": str(today - dt.timedelta(days=120)),
        "ends_on": str(today),
    }
    return Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/reports",
        body,
        201,
        effect=lambda: count(sv, m.Report, account_id=sv.account_id(ACME)),
        expect=lambda before: before + 1,
        other_body={**body, "type": "order_history"},
    )


WRITES: Dict[str, Tuple[str, Callable[[Any, str], Call]]] = {
    "reorder": ("reorder", reorder),
    "pay_invoice": ("pay_invoice", pay_invoice),
    "renew_contracts": ("renew_service_contract", renew_contracts),
    "upgrade_contracts": ("upgrade_service_contract", upgrade_contracts),
    "open_service_request": ("open_service_request", open_service_request),
    "add_address": ("add_address", add_address),
    "update_profile": ("update_profile", update_profile),
    "update_company": ("update_company", update_company),
    "invite_user": ("invite_user", invite),
    "change_role": ("change_user_role", change_role),
    "deactivate_user": ("deactivate_user", deactivate),
    "request_sso": ("request_sso", request_sso),
    "generate_report": ("generate_report", generate_report),
}


@pytest.fixture
def prepare(services):  # type: ignore[no-untyped-def]
    """Builds a write for a purpose and puts shared demo data back afterwards."""
    built: List[Call] = []

    def build(write: str, purpose: str) -> Call:
        call = WRITES[write][1](services, purpose)
        built.append(call)
        return call

    yield build
    for call in built:
        if call.cleanup:
            call.cleanup()


def assert_audited_once(services: Any, call: Call, capability: str, key: str) -> None:
    events = audited(services, call, capability, key)
    assert len(events) == 1, f"{len(events)} audit rows for one write"
    (event,) = events
    assert (event.outcome, event.channel, event.email, event.role, event.account_id) == (
        "ok",
        "api",  # called straight, not through a chat channel
        call.email,
        call.role,
        services.account_id(call.account),
    )


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("write", list(WRITES))
def test_a_repeated_request_acts_once_and_replays_the_answer(services, prepare, write):
    capability = WRITES[write][0]
    call = prepare(write, "repeat")
    key = new_key()
    before = call.effect()

    first = call.send(services, key)
    assert first.status_code == call.status, first.text
    after_first = call.effect()
    assert after_first == call.expect(before)
    state = database_state(services)

    second = call.send(services, key)
    assert second.status_code == first.status_code, second.text
    assert second.json()["replayed"] is True
    assert first.json().get("replayed", False) is False
    assert without_replayed(second.json()) == without_replayed(first.json())
    assert call.effect() == after_first
    assert tables_changed(services, state) == [], "a replay must not write anything"

    assert_audited_once(services, call, capability, key)
    assert idempotency_records(services, call.email, key) == 1


@pytest.mark.parametrize("write", list(WRITES))
def test_concurrent_repeats_act_once(services, prepare, write):
    capability = WRITES[write][0]
    call = prepare(write, "concurrent")
    key = new_key()
    before = call.effect()
    start = threading.Barrier(CONCURRENT_REPEATS)

    def repeat(_: int) -> httpx.Response:
        start.wait(timeout=30)
        return call.send(services, key)

    with ThreadPoolExecutor(CONCURRENT_REPEATS) as pool:
        responses = list(pool.map(repeat, range(CONCURRENT_REPEATS)))

    assert [r.status_code for r in responses] == [call.status] * CONCURRENT_REPEATS, [
        r.text for r in responses
    ]
    bodies = [r.json() for r in responses]
    assert sorted(bool(b.get("replayed")) for b in bodies) == [False] + [True] * (
        CONCURRENT_REPEATS - 1
    )
    assert all(without_replayed(b) == without_replayed(bodies[0]) for b in bodies)
    assert call.effect() == call.expect(before)
    assert_audited_once(services, call, capability, key)
    assert idempotency_records(services, call.email, key) == 1


@pytest.mark.parametrize("write", list(WRITES))
def test_a_key_reused_for_a_different_request_is_refused(services, prepare, write):
    call = prepare(write, "reuse")
    assert call.other_body is not None or call.other_path is not None
    key = new_key()
    first = call.send(services, key)
    assert first.status_code == call.status, first.text
    state = database_state(services)

    reused = call.send(services, key, other=True)

    assert reused.status_code == 409, reused.text
    assert reused.json()["error"]["code"] == "conflict"
    assert reused.json()["error"]["reason"] == "idempotency_key_reused"
    assert tables_changed(services, state) == []
    again = call.send(services, key)
    assert (again.status_code, again.json()["replayed"]) == (call.status, True)


BAD_KEYS = [None, "", "short", "has spaces in it", "x" * 101, "slash/in/the/key", "semi;colon;key"]


@pytest.mark.parametrize("write", list(WRITES))
def test_a_missing_or_malformed_key_is_refused_and_writes_nothing(services, prepare, write):
    call = prepare(write, "no_key")
    state = database_state(services)

    for key in BAD_KEYS:
        response = call.send(services, key)
        assert response.status_code == 400, (key, response.text)
        error = response.json()["error"]
        assert error["code"] == "bad_request"
        assert "Idempotency-Key" in error["message"]

    assert tables_changed(services, state) == []


# --- a write refused by a business rule leaves nothing behind, not even its key ---------


@dataclass
class Refusal:
    refused: Call
    reason: str
    later: Call  # a valid request sent afterwards with the same key


def _already_paid(sv: Any) -> Refusal:
    card = card_ids(sv, GLOBEX)[0]
    assert invoice_state(sv, "INV-20000003") == (0, False), "INV-20000003 was paid elsewhere"
    refused = Call(
        DIEGO,
        GLOBEX,
        "site_admin",
        "POST",
        "/invoices/INV-20000001/payments",
        {"payment_method_id": card},
        409,
        effect=lambda: invoice_state(sv, "INV-20000001"),
        expect=lambda before: before,
    )
    later = Call(
        DIEGO,
        GLOBEX,
        "site_admin",
        "POST",
        "/invoices/INV-20000003/payments",
        {"payment_method_id": card},
        200,
        effect=lambda: invoice_state(sv, "INV-20000003"),
        expect=lambda before: (before[0] + 1, True),
    )
    return Refusal(refused, "already_paid", later)


def _renew_without_contract(sv: Any) -> Refusal:
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/contracts/renewals",
        {"service_tags": ["C8N3V66"], "plan": "basic", "years": 1},
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    return Refusal(refused, "no_contract", renew_contracts(sv, "later"))


def _upgrade_to_a_lower_plan(sv: Any) -> Refusal:
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/contracts/upgrades",
        {"service_tags": ["7XK2M93"], "plan": "basic"},
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    # The key is free for any later write of the same person; a renewal spends no
    # upgradeable contract of the shared world.
    return Refusal(refused, "not_an_upgrade", renew_contracts(sv, "later"))


def _invite_a_member(sv: Any) -> Refusal:
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        "/users/invitations",
        {"email": BEN.upper(), "role": "buyer"},
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    return Refusal(refused, "already_member", invite(sv, "later"))


def _change_own_role(sv: Any) -> Refusal:
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "PATCH",
        f"/users/{sv.user_id(ANA)}",
        {"role": "buyer"},
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    return Refusal(refused, "self_change", change_role(sv, "later"))


def _deactivate_self(sv: Any) -> Refusal:
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        f"/users/{sv.user_id(ANA)}/deactivate",
        None,
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    return Refusal(refused, "self_change", deactivate(sv, "later"))


def _deactivate_twice(sv: Any) -> Refusal:
    done = deactivate(sv, "first")
    assert done.send(sv, new_key()).status_code == 200
    refused = Call(
        ANA,
        ACME,
        "site_admin",
        "POST",
        done.path,
        None,
        409,
        effect=lambda: None,
        expect=lambda before: before,
    )
    return Refusal(refused, "already_done", deactivate(sv, "later"))


REFUSALS: Dict[str, Tuple[str, Callable[[Any], Refusal]]] = {
    "pay_a_paid_invoice": ("pay_invoice", _already_paid),
    "renew_a_tag_without_contract": ("renew_service_contract", _renew_without_contract),
    "upgrade_to_a_lower_plan": ("renew_service_contract", _upgrade_to_a_lower_plan),
    "invite_an_existing_member": ("invite_user", _invite_a_member),
    "change_own_role": ("change_user_role", _change_own_role),
    "deactivate_self": ("deactivate_user", _deactivate_self),
    "deactivate_twice": ("deactivate_user", _deactivate_twice),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_write_refused_by_a_business_rule_writes_nothing_and_frees_its_key(services, case):
    later_capability, build = REFUSALS[case]
    refusal = build(services)
    key = new_key()
    state = database_state(services)

    refused = refusal.refused.send(services, key)

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["reason"] == refusal.reason
    assert tables_changed(services, state) == [], "a refused write must leave no trace"
    assert idempotency_records(services, refusal.refused.email, key) == 0

    later = refusal.later
    before = later.effect()
    response = later.send(services, key)
    assert response.status_code == later.status, response.text
    assert response.json().get("replayed", False) is False
    assert later.effect() == later.expect(before)
    assert_audited_once(services, later, later_capability, key)


def test_a_key_is_not_replayed_into_another_account_of_the_same_person(services):
    """Diego is Globex's admin and an Acme buyer: a key spent in one account is not the other's."""
    key = new_key()
    today = dt.date.today()
    body = {
        "type": "order_history",
        "starts_on": str(today - dt.timedelta(days=30)),
        "ends_on": str(today),
    }
    acme_reports = count(services, m.Report, account_id=services.account_id(ACME))
    with services.client(DIEGO, GLOBEX) as globex:
        in_globex = globex.post("/reports", headers={"Idempotency-Key": key}, json=body)
    assert in_globex.status_code == 201, in_globex.text

    with services.client(DIEGO, ACME) as acme:
        in_acme = acme.post("/reports", headers={"Idempotency-Key": key}, json=body)

    assert in_acme.status_code in (201, 409), in_acme.text
    if in_acme.status_code == 409:
        assert in_acme.json()["error"]["reason"] == "idempotency_key_reused"
    else:
        assert in_acme.json()["replayed"] is False
        assert in_acme.json()["id"] != in_globex.json()["id"]
        assert count(services, m.Report, account_id=services.account_id(ACME)) == acme_reports + 1
