"""Property-based fuzzing of every operation in the live /openapi.json with schemathesis.

Each operation gets generated input (valid and invalid, per the published schema),
sent to the real service on each database backend, as a demo site admin (every
operation) and as an account-team member (the GET operations). Whatever the
input, the service must never answer 5xx (schemathesis' `not_a_server_error`),
and every answer must be JSON, with the one error shape
{"error": {"code", "message"}} whenever the status is 400 or above; only a
download's success is a file.

Types are strict: whenever a request carries a value of another JSON type than the
schema declares (a number for a string, a float, a boolean or a numeric string for an
integer, null where null is not allowed, an integer path or query parameter that is
not plain ASCII digits), the answer must be a 4xx (a 422 names the field) and nothing
may be written. Schemathesis' negative mode produces such values among its mutations;
`test_fuzz_writes_with_a_field_of_the_wrong_type` makes every example one, by retyping
one field of a valid generated request (`retype`).

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
import re
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

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
from tests.conftest import TEST_SLACK_SERVICE_SECRET, service_env
from tests.services.test_bad_input import counts

ADMIN = "ana.admin@acme.example"
ACCOUNT_TEAM = "eve.rep@vendor.example"
MAX_EXAMPLES = {"admin": 25, "account_team": 15, "retyped": 6}
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


def _openapi_in_code() -> Dict[str, Any]:
    """The document the app publishes, known at collection time."""
    settings_ = load_settings(environ=service_env("sqlite://", 0), env_file=None)
    return create_app(settings_, engine=sa_create_engine("sqlite://")).openapi()


DOCUMENT = _openapi_in_code()
OPERATIONS = sorted(
    (method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops
)
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


# --- strict types: what was sent against what the schema declares ------------------------


def _resolve(doc: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        target: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def declared_types(doc: Dict[str, Any], schema: Dict[str, Any]) -> Set[str]:
    """The JSON types a schema allows ("any" when it says nothing)."""
    schema = _resolve(doc, schema)
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            return set().union(*(declared_types(doc, s) for s in schema[combined]))
    if "allOf" in schema:
        return declared_types(doc, schema["allOf"][0])
    kind = schema.get("type")
    return {"any"} if kind is None else set(kind if isinstance(kind, list) else [kind])


def json_type(value: Any) -> str:
    for kind, python in (
        ("null", type(None)),
        ("boolean", bool),
        ("integer", int),
        ("number", float),
        ("string", str),
        ("array", list),
        ("object", dict),
    ):
        if isinstance(value, python):
            return kind
    return "unknown"


def _fits(allowed: Set[str], value: Any) -> bool:
    kind = json_type(value)
    return "any" in allowed or kind in allowed or (kind == "integer" and "number" in allowed)


def _item_schema(doc: Dict[str, Any], schema: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    schema = _resolve(doc, schema)
    for option in schema.get("anyOf", [schema]):
        option = _resolve(doc, option)
        if "items" in option:
            return dict(option["items"])
    return None


def body_properties(doc: Dict[str, Any], method: str, path: str) -> Dict[str, Dict[str, Any]]:
    operation = doc["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return {}
    return dict(_resolve(doc, content["schema"]).get("properties", {}))


def _integer_parameters(doc: Dict[str, Any], method: str, path: str, where: str) -> List[str]:
    operation = doc["paths"][path][method.lower()]
    return [
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == where and "integer" in declared_types(doc, p.get("schema", {}))
    ]


NO_BODY = object()


def json_sent(sent: Dict[str, Any]) -> Tuple[bool, Any]:
    """(whether the body sent is JSON or absent, the decoded body or NO_BODY)."""
    if "json" in sent:
        return True, sent["json"]
    if sent.get("data") is None:
        return True, NO_BODY
    try:
        return True, json.loads(sent["data"])
    except (TypeError, ValueError):
        return False, NO_BODY


def wrongly_typed(doc: Dict[str, Any], method: str, path: str, sent: Dict[str, Any]) -> List[str]:
    """Fields and parameters of a request (as `as_transport_kwargs` prepares it) of a wrong type.

    Bodies are judged by their JSON types; integer path and query parameters by their
    text on the wire, which must be ASCII digits and nothing else.
    """
    wrong: List[str] = []
    url = urlsplit(sent["url"])
    digits = re.compile(r"[0-9]+")
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]*)", re.escape(path))
    found = re.fullmatch(pattern, url.path)
    for name in _integer_parameters(doc, method, path, "path"):
        if found and not digits.fullmatch(unquote(found.group(name))):
            wrong.append(name)
    query = dict(parse_qsl(url.query, keep_blank_values=True))  # the last value counts
    for name, value in (sent.get("params") or {}).items():
        last = value[-1] if isinstance(value, list) and value else value
        query.setdefault(name, str(last))
    for name in _integer_parameters(doc, method, path, "query"):
        if name in query and not digits.fullmatch(query[name]):
            wrong.append(name)
    properties = body_properties(doc, method, path)
    is_json, body = json_sent(sent)
    if not properties or not is_json or body is NO_BODY:
        return wrong  # no body, or not JSON at all: another kind of bad input
    if not isinstance(body, dict):
        return [*wrong, "body"]
    for name, value in body.items():
        if name not in properties:
            continue  # an unknown field: refused as such
        allowed = declared_types(doc, properties[name])
        items = _item_schema(doc, properties[name])
        if not _fits(allowed, value):
            wrong.append(name)
        elif isinstance(value, list) and items is not None:
            item_types = declared_types(doc, items)
            if not all(_fits(item_types, item) for item in value):
                wrong.append(name)
    return wrong


def check_refused(response: Any, wrong: List[str], where: str, *, named: bool = True) -> None:
    """A request with a value of a wrong type is refused, and (when `named`) a 422 says which.

    A body that is not JSON at all is refused for that alone, before any field is read.
    """
    assert 400 <= response.status_code < 500, f"accepted a wrong type in {wrong}: {where}"
    if named and response.status_code == 422:
        fields = [f["field"] for f in json.loads(response.content)["error"].get("fields", [])]
        said = {part for f in fields for part in f.split(".")}
        assert said & set(wrong), f"{wrong} not named in {fields}: {where}"


# A value of each JSON type, and the spellings of a number that int() reads but an id must not.
ANY_TYPE: List[Any] = [0, 7, -0.0, 2.5, 1.0, True, False, None, "7", ["7"], {"a": 1}]
ID_SPELLINGS = ["+1", " 1", "1 ", "1_0", "\u0661", "\uff11", "1.0", "1e0", "true"]


def retype(case: Any, doc: Dict[str, Any], data: st.DataObject) -> str:
    """Give one body field (or an integer path parameter) a value of a wrong type; its name."""
    properties = body_properties(doc, case.method, case.path)
    ids = _integer_parameters(doc, case.method, case.path, "path")
    targets = [("body", n) for n in sorted(properties) if isinstance(case.body, dict)]
    targets += [("path", n) for n in ids]
    where, name = data.draw(st.sampled_from(targets), label="retyped")
    if where == "path":
        case.path_parameters[name] = data.draw(st.sampled_from(ID_SPELLINGS), label=name)
        return name
    schema = properties[name]
    wrong = [v for v in ANY_TYPE if not _fits(declared_types(doc, schema), v)]
    items = _item_schema(doc, schema)
    if items is not None:
        wrong += [[v] for v in ANY_TYPE if not _fits(declared_types(doc, items), v)]
    case.body[name] = data.draw(st.sampled_from(wrong), label=name)
    return name


# Operations other than reads with a body field or an integer path parameter to retype.
RETYPABLE = [
    op
    for op in OPERATIONS
    if op[0] != "GET"
    and (body_properties(DOCUMENT, *op) or _integer_parameters(DOCUMENT, *op, "path"))
]


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


# Operations called with a service's own credential instead of a person's token.
SERVICE_CREDENTIALS = {("POST", "/slack/token"): TEST_SLACK_SERVICE_SECRET}


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
    token = SERVICE_CREDENTIALS.get(op, token)
    operation = schema[path][method]
    doc = schema.raw_schema
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
        sent = case.as_transport_kwargs(base_url=services.base_url)
        wrong = wrongly_typed(doc, method, path, sent)
        before = counts(services) if wrong and method != "GET" else None
        response = case.call(base_url=services.base_url, session=http, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        check_answer(case, response)
        if wrong:
            where = f"{method} {sent['url']} {sent.get('json', '')!r:.200}"
            check_refused(response, wrong, where, named=json_sent(sent)[0])
            assert before is None or counts(services) == before, f"written: {where}"

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


@pytest.mark.parametrize("op", RETYPABLE, ids=_op_id)
def test_fuzz_writes_with_a_field_of_the_wrong_type(services, live_schema, http, world, op):
    """Valid generated writes with one field (or id) retyped: a 422 naming it, nothing written."""
    method, path = op
    operation, doc = live_schema[path][method], live_schema.raw_schema
    token = SERVICE_CREDENTIALS.get(op) or services.token(ADMIN)
    retyped: Dict[str, int] = {}

    @settings(
        max_examples=MAX_EXAMPLES["retyped"],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        _use_known_values(case, data)
        name = retype(case, doc, data)
        case.headers["Authorization"] = f"Bearer {token}"
        case.headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"
        sent = case.as_transport_kwargs(base_url=services.base_url)
        where = f"{method} {sent['url']} {sent.get('json', '')!r:.200}"
        assert name in wrongly_typed(doc, method, path, sent), f"{name} not retyped: {where}"
        before = counts(services)
        response = case.call(base_url=services.base_url, session=http, timeout=30)
        check_answer(case, response)
        assert response.status_code == 422, f"{response.status_code}: {where}"
        check_refused(response, [name], where)
        assert counts(services) == before, f"written: {where}"
        retyped[name] = retyped.get(name, 0) + 1

    run()
    assert retyped, "nothing was retyped"
