"""Property-based fuzzing of every operation in the live /openapi.json with schemathesis.

Each operation gets generated input (valid and invalid, per the published schema),
sent to the real service on each database backend, as a demo site admin (every
operation) and as an account-team member (the GET operations). Whatever the
input, the service must never answer 5xx (schemathesis' `not_a_server_error`),
and every answer must be JSON, with the one error shape
{"error": {"code", "message"}} whenever the status is 400 or above; only a
download's success is a file.

Bounded and repeatable: a fixed number of examples per operation, derandomized
generation, no example database, no deadline. Writes get a fresh valid
Idempotency-Key most of the time; the rest of the time they keep whatever
(usually invalid or absent) key schemathesis generated. Generated values are
sometimes swapped for identifiers that exist in the demo world (the caller's
own and another account's), so the fuzz reaches the code behind the lookups.

The fuzz writes to the shared demo world (profiles, roles, addresses, carts,
payments...); the module snapshots every business table before and puts it
back afterwards, so later tests see the world as seeded.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy import create_engine as sa_create_engine

from bot.services import models as m
from bot.services.app import create_app
from bot.settings import load_settings
from tests.conftest import service_env

ADMIN = "ana.admin@acme.example"
ACCOUNT_TEAM = "eve.rep@vendor.example"
MAX_EXAMPLES = {"admin": 25, "account_team": 15}
KEY_SHARE = 8  # out of 10 write calls get a fresh valid Idempotency-Key
SQLITE_MAX_INT = 2**63 - 1
# The log tables only grow; they are left as the fuzz wrote them.
NOT_RESTORED = {m.AuditEvent.__tablename__, m.IdempotencyRecord.__tablename__}

# Identifiers that exist in the demo world: the caller's account's (Acme, prefix 1)
# and another account's (Globex, prefix 2), by the name of the parameter or field.
KNOWN_VALUES: Dict[str, List[Any]] = {
    "order_number": ["100000001", "100000006", "200000001"],
    "invoice_number": ["INV-10000001", "INV-10000003", "INV-10000005", "INV-20000002"],
    "service_tag": ["7XK2M93", "3fj8-k21", "H2L9P05", "C8N3V66", "MX4R8T2"],
    "service_tags": [["7XK2M93"], ["3FJ8K21", "9QW4T72"], ["H2L9P05"], ["C8N3V66"], ["MX4R8T2"]],
    "contract_number": ["SC-10000001", "SC-10000004", "SC-20000001"],
    "number": ["1000000001", "1000000003", "2000000001"],
    "address_id": [1, 2, 3],
    "document_id": [1, 3, 4],
    "report_id": [1, 2],
    "user_id": [1, 2, 3, 4, 5, 7],
    "payment_method_id": [1, 2, 3],
    "capability": ["show_invoices", "pay_invoice", "generate_report", "no_such_thing"],
    "account": ["acme", "Acme Corporation", "C-200871", "globex"],
    "plan": ["basic", "prosupport", "prosupport_plus"],
}


def _operations_in_code() -> List[Tuple[str, str]]:
    """(METHOD, path) of every operation the app publishes, known at collection time."""
    settings_ = load_settings(environ=service_env("sqlite://", 0), env_file=None)
    app = create_app(settings_, engine=sa_create_engine("sqlite://"))
    return sorted(
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    )


OPERATIONS = _operations_in_code()
GET_OPERATIONS = [op for op in OPERATIONS if op[0] == "GET"]


def _op_id(op: Tuple[str, str]) -> str:
    return f"{op[0]} {op[1]}"


# --- the world, put back after the fuzz --------------------------------------------------


def _tables() -> list:
    return [t for t in m.Base.metadata.sorted_tables if t.name not in NOT_RESTORED]


def _key(table: Any, row: Dict[str, Any]) -> tuple:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _same_key(table: Any, key: tuple) -> Any:
    return and_(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))


def _snapshot(engine: Any) -> Dict[str, Dict[tuple, Dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            t.name: {
                _key(t, dict(r._mapping)): dict(r._mapping) for r in connection.execute(select(t))
            }
            for t in _tables()
        }


def _restore(engine: Any, snapshot: Dict[str, Dict[tuple, Dict[str, Any]]]) -> None:
    """Delete the rows the fuzz added, put back the ones it changed (children first)."""
    with engine.begin() as connection:
        for table in reversed(_tables()):
            kept = snapshot[table.name]
            for row in connection.execute(select(table)).mappings().all():
                if _key(table, dict(row)) not in kept:
                    connection.execute(delete(table).where(_same_key(table, _key(table, row))))
        for table in _tables():
            current = {
                _key(table, dict(r)): dict(r)
                for r in connection.execute(select(table)).mappings().all()
            }
            for key, row in snapshot[table.name].items():
                if key not in current:
                    connection.execute(insert(table).values(**row))
                elif current[key] != row:
                    connection.execute(update(table).where(_same_key(table, key)).values(**row))


@pytest.fixture(scope="module")
def world(services) -> Iterator[None]:
    snapshot = _snapshot(services.engine)
    yield
    _restore(services.engine, snapshot)
    assert _snapshot(services.engine) == snapshot, "the fuzz left the demo world changed"


@pytest.fixture(scope="module")
def live_schema(services):
    """The schema the running service publishes, as schemathesis reads it."""
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                # We send the real bearer token ourselves; generated ones would only test 401s.
                "with-security-parameters": False,
            }
        }
    )
    return schemathesis.openapi.from_url(f"{services.base_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# --- checks ------------------------------------------------------------------------------


def _has_error_shape(body: Any) -> bool:
    error = body.get("error") if isinstance(body, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and error["code"] != ""
        and isinstance(error.get("message"), str)
        and error["message"].strip() != ""
    )


def check_answer(case: Any, response: Any) -> None:
    """The project's contract on top of `not_a_server_error`."""
    case.validate_response(response, checks=[not_a_server_error])
    where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    if case.path == "/downloads/{token}" and response.status_code == 200:
        return  # a file: PDF or CSV
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.startswith("application/json"), where
    try:
        body = json.loads(response.content)
    except ValueError:
        pytest.fail(f"not JSON: {where}")
    if response.status_code >= 400:
        assert _has_error_shape(body), f"not the error shape: {where}"


# --- generation --------------------------------------------------------------------------


def _ints(value: Any) -> Iterator[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _ints(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ints(item)


def _use_known_values(case: Any, data: st.DataObject) -> None:
    """Swap some generated identifiers for real ones, so lookups find something."""
    for name in list(case.path_parameters):
        if name in KNOWN_VALUES and data.draw(st.booleans(), label=f"known {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(KNOWN_VALUES[name]))
    if isinstance(case.body, dict):
        for name in list(case.body):
            if name in KNOWN_VALUES and data.draw(st.booleans(), label=f"known {name}"):
                case.body[name] = data.draw(st.sampled_from(KNOWN_VALUES[name]))


def fuzz(
    schema: Any,
    services: Any,
    http: requests.Session,
    op: Tuple[str, str],
    token: str,
    examples: int,
) -> Dict[int, int]:
    """Run `examples` generated calls of `op` as the holder of `token`; returns status counts."""
    method, path = op
    operation = schema[path][method]
    write = any(
        p["in"] == "header" and p["name"].lower() == "idempotency-key"
        for p in operation.definition.raw.get("parameters", [])
    )
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    statuses: Dict[int, int] = {}

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE:
            _use_known_values(case, data)
        case.headers["Authorization"] = f"Bearer {token}"
        if write and data.draw(st.integers(0, 9), label="fresh key") < KEY_SHARE:
            case.headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"
        response = case.call(base_url=services.base_url, session=http, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        check_answer(case, response)

    run()
    return statuses


# --- tests -------------------------------------------------------------------------------


def test_every_published_operation_is_fuzzed(services, live_schema):
    live = sorted(
        (result.ok().method.upper(), result.ok().path)
        for result in live_schema.get_all_operations()
    )
    assert live == OPERATIONS
    assert len(OPERATIONS) >= 40


@pytest.mark.parametrize("op", OPERATIONS, ids=_op_id)
def test_fuzz_as_site_admin(services, live_schema, http, world, op):
    token = services.token(ADMIN)
    started = time.monotonic()
    statuses = fuzz(live_schema, services, http, op, token, MAX_EXAMPLES["admin"])
    assert statuses, "nothing was sent"
    assert time.monotonic() - started < 30, f"{_op_id(op)} took too long: {statuses}"


@pytest.mark.parametrize("op", GET_OPERATIONS, ids=_op_id)
def test_fuzz_reads_as_account_team(services, live_schema, http, world, op):
    token = services.token(ACCOUNT_TEAM)
    statuses = fuzz(live_schema, services, http, op, token, MAX_EXAMPLES["account_team"])
    assert statuses, "nothing was sent"
