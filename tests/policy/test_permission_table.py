"""The permission table as data: it loads, it says what DESIGN.md says, and `decide` explains.

Pure unit tests of `bot.policy`; no server, no database.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Dict, FrozenSet, Optional

import pytest
import yaml

from bot.policy import (
    TABLE_PATH,
    Decision,
    PermissionTable,
    PermissionTableError,
    Reason,
    Subject,
    load_table,
    parse_table,
)

# --- DESIGN.md's permission table, written out by hand --------------------------------------

ROLES = ("site_admin", "buyer", "shopper", "account_team", "support_agent")
CUSTOMER = frozenset({"site_admin", "buyer", "shopper"})
CUSTOMER_AND_TEAM = CUSTOMER | {"account_team"}
ADMIN_BUYER = frozenset({"site_admin", "buyer"})
ADMIN = frozenset({"site_admin"})
CONTRACT_COUNTRIES = frozenset({"US", "CA", "GB", "DE", "FR", "ES"})
BILLING = frozenset({"billing_report_enabled"})
REPORTING = frozenset({"reporting_access"})
HOME = frozenset({"Home"})
PUBLIC = ("help", "greet", "support_contact")


def _spec(
    roles: FrozenSet[str],
    *,
    flags: FrozenSet[str] = frozenset(),
    settings: FrozenSet[str] = frozenset(),
    countries: Optional[FrozenSet[str]] = None,
    not_types: FrozenSet[str] = frozenset(),
) -> Dict[str, Any]:
    return {
        "roles": frozenset(roles),
        "user_flags": flags,
        "account_settings": settings,
        "countries": countries,
        "not_account_types": not_types,
    }


# capability -> what DESIGN.md's table says about it ("roles" for public ones is {"anyone"}).
DESIGN: Dict[str, Dict[str, Any]] = {
    "help": _spec(frozenset({"anyone"})),
    "greet": _spec(frozenset({"anyone"})),
    "support_contact": _spec(frozenset({"anyone"})),
    "account_info": _spec(CUSTOMER_AND_TEAM),
    "switch_account": _spec(CUSTOMER_AND_TEAM),
    "list_users": _spec(ADMIN, not_types=HOME),
    "invite_user": _spec(ADMIN, not_types=HOME),
    "change_user_role": _spec(ADMIN, not_types=HOME),
    "deactivate_user": _spec(ADMIN, not_types=HOME),
    "reactivate_user": _spec(ADMIN, not_types=HOME),  # undoes a deactivation
    "request_sso": _spec(ADMIN, not_types=HOME),
    "show_quotes": _spec(CUSTOMER_AND_TEAM, not_types=HOME),
    "list_recent_orders": _spec(CUSTOMER_AND_TEAM),
    "order_status": _spec(CUSTOMER_AND_TEAM),
    "reorder": _spec(CUSTOMER),
    "show_invoices": _spec(CUSTOMER_AND_TEAM, settings=BILLING, not_types=HOME),
    "invoice_details": _spec(CUSTOMER_AND_TEAM, settings=BILLING, not_types=HOME),
    "download_invoice": _spec(CUSTOMER_AND_TEAM, settings=BILLING, not_types=HOME),
    "pay_invoice": _spec(ADMIN_BUYER, settings=BILLING, not_types=HOME),
    "list_service_contracts": _spec(
        ADMIN_BUYER | {"account_team"}, countries=CONTRACT_COUNTRIES, not_types=HOME
    ),
    "renew_service_contract": _spec(ADMIN_BUYER, countries=CONTRACT_COUNTRIES, not_types=HOME),
    "upgrade_service_contract": _spec(ADMIN_BUYER, countries=CONTRACT_COUNTRIES, not_types=HOME),
    "list_subscriptions": _spec(CUSTOMER_AND_TEAM, countries=frozenset({"US"})),
    "show_account_team": _spec(CUSTOMER_AND_TEAM, not_types=HOME),
    "list_documents": _spec(CUSTOMER_AND_TEAM, not_types=HOME),
    "support_history": _spec(CUSTOMER_AND_TEAM),
    "service_request_status": _spec(CUSTOMER_AND_TEAM),
    "open_service_request": _spec(CUSTOMER),
    "list_reports": _spec(CUSTOMER, flags=REPORTING, not_types=HOME),
    "generate_report": _spec(CUSTOMER, flags=REPORTING, not_types=HOME),
    "list_devices": _spec(CUSTOMER_AND_TEAM),
    "check_warranty": _spec(CUSTOMER_AND_TEAM),
    "show_profile": _spec(CUSTOMER),
    "update_profile": _spec(CUSTOMER),
    "show_addresses": _spec(CUSTOMER),
    "add_address": _spec(CUSTOMER),
    "update_company": _spec(ADMIN),  # "update company details"
    "list_payment_methods": _spec(ADMIN_BUYER),
    "list_quick_checkout": _spec(ADMIN_BUYER),
}

# Capabilities that change data (DESIGN.md: "Every write (...)"), plus the other writes the
# table declares: SSO requests, contract upgrades, reports and company details.
WRITES = frozenset(
    {
        "invite_user",
        "change_user_role",
        "deactivate_user",
        "reactivate_user",
        "request_sso",
        "reorder",
        "pay_invoice",
        "renew_service_contract",
        "upgrade_service_contract",
        "open_service_request",
        "generate_report",
        "update_profile",
        "add_address",
        "update_company",
    }
)

ORDER = (
    Reason.NOT_SIGNED_IN,
    Reason.ACCOUNT_TYPE,
    Reason.COUNTRY,
    Reason.ACCOUNT_SETTING,
    Reason.ROLE,
    Reason.USER_FLAG,
)

# Every account context a subject can be in: the demo world's, plus a few more.
ACCOUNT_CONTEXTS = [
    pytest.param(
        kind, country, settings, id=f"{kind}-{country}-{'billing' if settings else 'nobilling'}"
    )
    for kind in ("Premier", "Business", "Home")
    for country in ("US", "MX", "DE", "JP")
    for settings in (BILLING, frozenset())
]

TABLE = load_table()


def everything_ok(role: str = "site_admin", **overrides: Any) -> Subject:
    """A subject that passes every rule of every capability in the table, but for `overrides`."""
    fields: Dict[str, Any] = dict(
        role=role,
        user_flags=REPORTING,
        account_type="Premier",
        country="US",
        account_settings=BILLING,
    )
    fields.update(overrides)
    return Subject(**fields)


# --- the file loads and says what DESIGN.md says ------------------------------------------


def test_the_yaml_file_loads_into_a_table():
    table = load_table()
    assert isinstance(table, PermissionTable)
    assert table.roles == ROLES
    assert load_table() is table, "the table is read once per process"
    with open(TABLE_PATH, encoding="utf-8") as handle:
        again = parse_table(yaml.safe_load(handle))
    assert again.capabilities == table.capabilities


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_every_design_capability_exists(name):
    assert name in TABLE
    assert TABLE.capability(name).name == name


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_capability_matches_design(name):
    cap, want = TABLE.capability(name), DESIGN[name]
    assert cap.roles == want["roles"]
    assert cap.user_flags == want["user_flags"]
    assert cap.account_settings == want["account_settings"]
    assert cap.countries == want["countries"]
    assert cap.not_account_types == want["not_account_types"]
    assert cap.public == (name in PUBLIC)


@pytest.mark.parametrize("name", sorted(TABLE.capabilities))
def test_write_flag_matches_design(name):
    assert TABLE.capability(name).write == (name in WRITES)


def test_only_known_extras_beyond_design():
    """The table may carry capabilities DESIGN.md does not list; today only the cart view."""
    assert set(TABLE.capabilities) - set(DESIGN) == {"view_cart", "request_human", "handoff_desk"}
    assert TABLE.capability("view_cart").roles == CUSTOMER


def test_groups_expand_to_their_members():
    raw = {
        "roles": ["a", "b", "c"],
        "groups": {"ab": ["a", "b"]},
        "capabilities": {"x": {"roles": ["ab", "c"]}, "y": {"roles": ["anyone"]}},
    }
    table = parse_table(raw)
    assert table.capability("x").roles == {"a", "b", "c"}
    assert "ab" not in table.capability("x").roles
    assert table.capability("y").public


def test_unknown_capability_is_a_key_error():
    with pytest.raises(KeyError, match="no_such_thing"):
        TABLE.decide("no_such_thing", everything_ok())
    assert "no_such_thing" not in TABLE


# --- malformed tables are refused --------------------------------------------------------

GOOD: Dict[str, Any] = {
    "roles": ["site_admin", "buyer"],
    "groups": {"customer": ["site_admin", "buyer"]},
    "capabilities": {"list_users": {"roles": ["site_admin"]}},
}


def _with(**changes: Any) -> Dict[str, Any]:
    raw = copy.deepcopy(GOOD)
    raw.update(changes)
    return raw


def _cap(spec: Any) -> Dict[str, Any]:
    return _with(capabilities={"list_users": {"roles": ["site_admin"]}, "bad": spec})


def test_the_good_example_parses():
    assert set(parse_table(GOOD).capabilities) == {"list_users"}


@pytest.mark.parametrize(
    "raw, message",
    [
        # unknown role
        pytest.param(_cap({"roles": ["king"]}), "unknown role", id="unknown-role"),
        pytest.param(
            _cap({"roles": ["site_admin", "Buyer"]}), "unknown role", id="unknown-role-case"
        ),
        pytest.param(_cap({"roles": ["customers"]}), "unknown role", id="unknown-group"),
        pytest.param(
            _with(groups={"customer": ["site_admin", "shopper"]}),
            "unknown roles",
            id="group-with-unknown-role",
        ),
        pytest.param(_with(roles=[]), "unknown role", id="no-roles-declared"),
        # unknown key
        pytest.param(_cap({"roles": ["buyer"], "colour": "red"}), "unknown keys", id="unknown-key"),
        pytest.param(
            _cap({"roles": ["buyer"], "user_flag": ["reporting_access"]}),
            "unknown keys",
            id="misspelt-user_flags",
        ),
        pytest.param(
            _cap({"roles": ["buyer"], "country": ["US"]}), "unknown keys", id="misspelt-countries"
        ),
        pytest.param(
            _cap({"roles": ["buyer"], "account_types": ["Home"]}),
            "unknown keys",
            id="misspelt-not_account_types",
        ),
        # capability without roles
        pytest.param(_cap({}), "must list its roles", id="empty-spec"),
        pytest.param(_cap({"write": True}), "must list its roles", id="write-only"),
        pytest.param(_cap({"role": ["buyer"]}), "must list its roles", id="misspelt-roles"),
        pytest.param(_cap(None), "must list its roles", id="null-spec"),
        pytest.param(_cap(["buyer"]), "must list its roles", id="list-spec"),
        pytest.param(_cap("buyer"), "must list its roles", id="string-spec"),
        # empty table
        pytest.param({}, "no capabilities", id="empty-mapping"),
        pytest.param(_with(capabilities={}), "no capabilities", id="no-capabilities"),
        pytest.param(_with(capabilities=None), "no capabilities", id="null-capabilities"),
        pytest.param({"roles": ["buyer"]}, "no capabilities", id="roles-only"),
        # not a table at all
        pytest.param(None, "mapping", id="none"),
        pytest.param([], "mapping", id="list"),
        pytest.param("roles: [buyer]", "mapping", id="string"),
    ],
)
def test_malformed_tables_are_refused(raw, message):
    with pytest.raises(PermissionTableError, match=message):
        parse_table(raw)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_cap({"roles": None}), id="null-roles"),
        pytest.param(_cap({"roles": []}), id="empty-roles"),
    ],
)
def test_capability_with_null_or_empty_roles_is_refused(raw):
    with pytest.raises(PermissionTableError):
        parse_table(raw)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_cap({"roles": ["buyer"], "countries": "US"}), id="countries-string"),
        pytest.param(
            _cap({"roles": ["buyer"], "user_flags": "reporting_access"}), id="user_flags-string"
        ),
        pytest.param(
            _cap({"roles": ["buyer"], "account_settings": "billing_report_enabled"}),
            id="account_settings-string",
        ),
        pytest.param(
            _cap({"roles": ["buyer"], "not_account_types": "Home"}), id="not_account_types-string"
        ),
        pytest.param(_cap({"roles": ["buyer"], "write": "no"}), id="write-string"),
    ],
)
def test_scalar_where_a_list_or_bool_is_meant_is_refused(raw):
    with pytest.raises(PermissionTableError):
        parse_table(raw)


def test_permission_table_error_is_a_value_error():
    assert issubclass(PermissionTableError, ValueError)


# --- the denial order --------------------------------------------------------------------

# One capability that every rule can fail.
STRICT = parse_table(
    {
        "roles": list(ROLES),
        "capabilities": {
            "strict": {
                "roles": ["site_admin"],
                "user_flags": ["reporting_access"],
                "account_settings": ["billing_report_enabled"],
                "countries": ["US"],
                "not_account_types": ["Home"],
            }
        },
    }
)
ACCOUNT_RULES = (
    Reason.ACCOUNT_TYPE,
    Reason.COUNTRY,
    Reason.ACCOUNT_SETTING,
    Reason.ROLE,
    Reason.USER_FLAG,
)
FAILING = {
    Reason.ACCOUNT_TYPE: {"account_type": "Home"},
    Reason.COUNTRY: {"country": "MX"},
    Reason.ACCOUNT_SETTING: {"account_settings": frozenset()},
    Reason.ROLE: {"role": "shopper"},
    Reason.USER_FLAG: {"user_flags": frozenset()},
}
REQUIRED = {
    Reason.ACCOUNT_TYPE: ("Home",),
    Reason.COUNTRY: ("US",),
    Reason.ACCOUNT_SETTING: ("billing_report_enabled",),
    Reason.ROLE: ("site_admin",),
    Reason.USER_FLAG: ("reporting_access",),
}
COMBINATIONS = [
    pytest.param(combo, id="+".join(r.value for r in combo) or "none")
    for size in range(len(ACCOUNT_RULES) + 1)
    for combo in itertools.combinations(ACCOUNT_RULES, size)
]


def test_the_reasons_are_in_the_documented_order():
    assert [r.value for r in Reason] == [
        "not_signed_in",
        "account_type",
        "country",
        "account_setting",
        "role",
        "user_flag",
    ]


@pytest.mark.parametrize("failing", COMBINATIONS)
def test_first_failing_rule_wins(failing):
    overrides: Dict[str, Any] = {}
    for reason in failing:
        overrides.update(FAILING[reason])
    decision = STRICT.decide("strict", everything_ok(**overrides))
    if not failing:
        assert decision == Decision("strict", True)
        return
    first = min(failing, key=ORDER.index)
    assert decision == Decision("strict", False, first, REQUIRED[first])


@pytest.mark.parametrize("failing", COMBINATIONS)
def test_not_signed_in_beats_everything(failing):
    overrides: Dict[str, Any] = {}
    for reason in failing:
        overrides.update(FAILING[reason])
    overrides["role"] = None
    decision = STRICT.decide("strict", everything_ok(**overrides))
    assert (decision.allowed, decision.reason, decision.required) == (
        False,
        Reason.NOT_SIGNED_IN,
        (),
    )


@pytest.mark.parametrize(
    "capability, subject, reason",
    [
        # Several rules fail at once on the real table; the first in the order is named.
        pytest.param(
            "pay_invoice",
            Subject(role=None, account_type="Home", country="MX"),
            Reason.NOT_SIGNED_IN,
            id="pay-anonymous-home",
        ),
        pytest.param(
            "pay_invoice",
            Subject(role="shopper", account_type="Home", country="US"),
            Reason.ACCOUNT_TYPE,
            id="pay-shopper-home-nobilling",
        ),
        pytest.param(
            "pay_invoice",
            Subject(role="shopper", account_type="Business", country="DE"),
            Reason.ACCOUNT_SETTING,
            id="pay-shopper-nobilling",
        ),
        pytest.param(
            "pay_invoice",
            Subject(
                role="account_team", account_type="Premier", country="US", account_settings=BILLING
            ),
            Reason.ROLE,
            id="pay-account-team",
        ),
        pytest.param(
            "renew_service_contract",
            Subject(role="shopper", account_type="Home", country="MX"),
            Reason.ACCOUNT_TYPE,
            id="renew-shopper-home-mx",
        ),
        pytest.param(
            "renew_service_contract",
            Subject(role="shopper", account_type="Premier", country="MX"),
            Reason.COUNTRY,
            id="renew-shopper-mx",
        ),
        pytest.param(
            "renew_service_contract",
            Subject(role="shopper", account_type="Premier", country="US"),
            Reason.ROLE,
            id="renew-shopper-us",
        ),
        pytest.param(
            "list_subscriptions",
            Subject(role="support_agent", account_type="Business", country="DE"),
            Reason.COUNTRY,
            id="subscriptions-agent-de",
        ),
        pytest.param(
            "list_reports",
            Subject(role="account_team", account_type="Home", country="US"),
            Reason.ACCOUNT_TYPE,
            id="reports-team-home",
        ),
        pytest.param(
            "list_reports",
            Subject(role="account_team", account_type="Premier", country="US"),
            Reason.ROLE,
            id="reports-team-noflag",
        ),
        pytest.param(
            "list_reports",
            Subject(role="shopper", account_type="Premier", country="MX"),
            Reason.USER_FLAG,
            id="reports-shopper-noflag",
        ),
        pytest.param(
            "show_invoices",
            Subject(role="support_agent", account_type="Business", country="DE"),
            Reason.ACCOUNT_SETTING,
            id="invoices-agent-nobilling",
        ),
        pytest.param(
            "list_users",
            Subject(role="buyer", account_type="Home", country="US"),
            Reason.ACCOUNT_TYPE,
            id="users-buyer-home",
        ),
    ],
)
def test_first_failing_rule_wins_on_the_real_table(capability, subject, reason):
    decision = TABLE.decide(capability, subject)
    assert not decision.allowed
    assert decision.reason == reason
    assert decision.capability == capability


@pytest.mark.parametrize(
    "reason, required", list(REQUIRED.items()), ids=[r.value for r in REQUIRED]
)
def test_denial_names_what_is_required_sorted(reason, required):
    decision = STRICT.decide("strict", everything_ok(**FAILING[reason]))
    assert decision.required == required
    assert decision.as_dict() == {
        "capability": "strict",
        "allowed": False,
        "reason": reason.value,
        "required": list(required),
    }


def test_required_roles_and_countries_are_sorted():
    decision = TABLE.decide("renew_service_contract", everything_ok(country="MX"))
    assert decision.required == tuple(sorted(CONTRACT_COUNTRIES))
    decision = TABLE.decide("list_service_contracts", everything_ok(role="shopper"))
    assert decision.required == ("account_team", "buyer", "site_admin")


def test_an_allowed_decision_explains_nothing():
    decision = TABLE.decide("account_info", everything_ok())
    assert decision.as_dict() == {
        "capability": "account_info",
        "allowed": True,
        "reason": None,
        "required": [],
    }


# --- who may do what -------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TABLE.capabilities))
@pytest.mark.parametrize("role", ROLES)
def test_role_grid_where_every_other_rule_passes(name, role):
    """In a Premier US account with billing reports, by someone with reporting access."""
    decision = TABLE.decide(name, everything_ok(role=role))
    allowed = name in PUBLIC or role in TABLE.capability(name).roles
    assert decision.allowed == allowed
    if name in DESIGN:
        assert allowed == (name in PUBLIC or role in DESIGN[name]["roles"])
    if not allowed:
        assert decision.reason == Reason.ROLE


@pytest.mark.parametrize("name", PUBLIC)
@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(Subject(), id="anonymous"),
        pytest.param(
            Subject(user_flags=REPORTING, account_type="Home", country="MX"),
            id="anonymous-with-stray-facts",
        ),
        pytest.param(Subject(role="support_agent"), id="support-agent"),
        pytest.param(Subject(role="shopper", account_type="Home", country="JP"), id="home-shopper"),
    ],
)
def test_public_capabilities_admit_anyone(name, subject):
    assert TABLE.decide(name, subject) == Decision(name, True)


def test_the_public_capabilities_are_exactly_the_documented_ones():
    assert {n for n, c in TABLE.capabilities.items() if c.public} == set(PUBLIC)
    assert TABLE.allowed(Subject()) == PUBLIC


@pytest.mark.parametrize("name", sorted(set(TABLE.capabilities) - set(PUBLIC)))
def test_anonymous_is_refused_everything_else(name):
    decision = TABLE.decide(name, Subject())
    assert (decision.allowed, decision.reason, decision.required) == (
        False,
        Reason.NOT_SIGNED_IN,
        (),
    )


@pytest.mark.parametrize("name", sorted(TABLE.capabilities))
@pytest.mark.parametrize("flags", [frozenset(), REPORTING], ids=["noflags", "reporting"])
def test_support_agent_without_an_account_gets_only_public(name, flags):
    decision = TABLE.decide(name, Subject(role="support_agent", user_flags=flags))
    if name in PUBLIC:
        assert decision.allowed
    else:
        assert not decision.allowed
        assert decision.reason == Reason.ROLE
        assert decision.required == tuple(sorted(TABLE.capability(name).roles))


@pytest.mark.parametrize("role", ["site_admin", "buyer", "shopper", "account_team"])
def test_anyone_without_an_account_gets_only_public(role):
    assert TABLE.allowed(Subject(role=role, user_flags=REPORTING)) == PUBLIC


@pytest.mark.parametrize("name", sorted(WRITES))
@pytest.mark.parametrize("kind, country, settings", ACCOUNT_CONTEXTS)
@pytest.mark.parametrize("flags", [frozenset(), REPORTING], ids=["noflags", "reporting"])
def test_account_team_is_never_allowed_a_write(name, kind, country, settings, flags):
    subject = Subject(
        role="account_team",
        user_flags=flags,
        account_type=kind,
        country=country,
        account_settings=settings,
    )
    assert not TABLE.decide(name, subject).allowed


@pytest.mark.parametrize("name", sorted(TABLE.capabilities))
def test_no_write_lists_vendor_staff(name):
    cap = TABLE.capability(name)
    if cap.write:
        assert not cap.roles & {"account_team", "support_agent", "anyone"}


@pytest.mark.parametrize("kind, country, settings", ACCOUNT_CONTEXTS)
def test_account_team_may_read_in_any_account_where_reads_exist(kind, country, settings):
    team = Subject(
        role="account_team", account_type=kind, country=country, account_settings=settings
    )
    allowed = set(TABLE.allowed(team))
    assert not allowed & WRITES
    assert {
        "account_info",
        "list_recent_orders",
        "order_status",
        "list_devices",
        "check_warranty",
        "support_history",
        "service_request_status",
    } <= allowed


def test_allowed_lists_capabilities_in_table_order():
    names = TABLE.allowed(everything_ok(role="shopper"))
    order = list(TABLE.capabilities)
    assert list(names) == sorted(names, key=order.index)
    assert "reorder" in names and "pay_invoice" not in names
