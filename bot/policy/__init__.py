"""The permission table as data, and the one function that evaluates it.

The account services enforce `PermissionTable.decide` on every request; the
assistant calls the same function to explain a denial before it fetches
anything. Both read `permissions.yml` beside this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

import yaml

TABLE_PATH = Path(__file__).with_name("permissions.yml")
ANYONE = "anyone"


class Reason(str, enum.Enum):
    """Why a capability is refused, in the order the rules are checked."""

    NOT_SIGNED_IN = "not_signed_in"
    ACCOUNT_TYPE = "account_type"
    COUNTRY = "country"
    ACCOUNT_SETTING = "account_setting"
    ROLE = "role"
    USER_FLAG = "user_flag"


class PermissionTableError(ValueError):
    """The permission table file is malformed; raised once, at load time."""


@dataclass(frozen=True)
class Subject:
    """Everything the rules look at: who is asking, in which account.

    `role` is None for someone who is not signed in (or signed in without an
    account: then `authenticated` is True); the account fields are None when the
    person has no active account (e.g. a support agent).
    """

    role: Optional[str] = None
    user_flags: FrozenSet[str] = frozenset()
    account_type: Optional[str] = None
    country: Optional[str] = None
    account_settings: FrozenSet[str] = frozenset()
    authenticated: bool = False

    @property
    def signed_in(self) -> bool:
        return self.authenticated or self.role is not None


@dataclass(frozen=True)
class Capability:
    name: str
    roles: FrozenSet[str]
    user_flags: FrozenSet[str] = frozenset()
    account_settings: FrozenSet[str] = frozenset()
    countries: Optional[FrozenSet[str]] = None
    not_account_types: FrozenSet[str] = frozenset()
    write: bool = False

    @property
    def public(self) -> bool:
        return ANYONE in self.roles


@dataclass(frozen=True)
class Decision:
    """The outcome of one check; `reason` and `required` explain a denial."""

    capability: str
    allowed: bool
    reason: Optional[Reason] = None
    required: Tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "capability": self.capability,
            "allowed": self.allowed,
            "reason": self.reason.value if self.reason else None,
            "required": list(self.required),
        }


class PermissionTable:
    """The parsed, validated table."""

    def __init__(self, roles: Iterable[str], capabilities: Mapping[str, Capability]):
        self.roles = tuple(roles)
        self.capabilities = dict(capabilities)

    def __contains__(self, name: object) -> bool:
        return name in self.capabilities

    def capability(self, name: str) -> Capability:
        try:
            return self.capabilities[name]
        except KeyError:
            raise KeyError(f"unknown capability {name!r}") from None

    def decide(self, name: str, subject: Subject) -> Decision:
        """Check `subject` against capability `name`, rules in the documented order."""
        cap = self.capability(name)
        if cap.public:
            return Decision(name, True)

        def deny(reason: Reason, required: Iterable[str]) -> Decision:
            return Decision(name, False, reason, tuple(sorted(required)))

        if not subject.signed_in:
            return deny(Reason.NOT_SIGNED_IN, ())
        if subject.account_type is None:
            # Staff without an active account (support agents) hold no account data.
            return deny(Reason.ROLE, cap.roles)
        if subject.account_type in cap.not_account_types:
            return deny(Reason.ACCOUNT_TYPE, cap.not_account_types)
        if cap.countries is not None and subject.country not in cap.countries:
            return deny(Reason.COUNTRY, cap.countries)
        missing_settings = cap.account_settings - subject.account_settings
        if missing_settings:
            return deny(Reason.ACCOUNT_SETTING, missing_settings)
        if subject.role not in cap.roles:
            return deny(Reason.ROLE, cap.roles)
        missing_flags = cap.user_flags - subject.user_flags
        if missing_flags:
            return deny(Reason.USER_FLAG, missing_flags)
        return Decision(name, True)

    def allowed(self, subject: Subject) -> Tuple[str, ...]:
        """Names of every capability `subject` may use, in table order."""
        return tuple(n for n in self.capabilities if self.decide(n, subject).allowed)


def _string_list(value: Any, *, empty: bool = False) -> bool:
    return (
        isinstance(value, list)
        and (empty or bool(value))
        and all(isinstance(v, str) for v in value)
    )


def parse_table(raw: Mapping[str, Any]) -> PermissionTable:
    """Build a table from its YAML form, refusing anything it does not understand."""
    if not isinstance(raw, Mapping):
        raise PermissionTableError("the table must be a mapping")
    roles = list(raw.get("roles") or [])
    groups: Dict[str, list] = dict(raw.get("groups") or {})
    for group, members in groups.items():
        unknown = set(members) - set(roles)
        if unknown:
            raise PermissionTableError(f"group {group!r} names unknown roles {sorted(unknown)}")
    known_keys = {
        "roles",
        "user_flags",
        "account_settings",
        "countries",
        "not_account_types",
        "write",
    }
    capabilities: Dict[str, Capability] = {}
    for name, spec in (raw.get("capabilities") or {}).items():
        if not isinstance(spec, Mapping) or not _string_list(spec.get("roles")):
            raise PermissionTableError(f"capability {name!r} must list its roles")
        extra = set(spec) - known_keys
        if extra:
            raise PermissionTableError(f"capability {name!r} has unknown keys {sorted(extra)}")
        for key in ("user_flags", "account_settings", "countries", "not_account_types"):
            if key in spec and spec[key] is not None and not _string_list(spec[key], empty=True):
                raise PermissionTableError(f"capability {name!r}: {key} must be a list of names")
        if not isinstance(spec.get("write", False), bool):
            raise PermissionTableError(f"capability {name!r}: write must be true or false")
        expanded = set()
        for role in spec["roles"]:
            if role == ANYONE or role in roles:
                expanded.add(role)
            elif role in groups:
                expanded.update(groups[role])
            else:
                raise PermissionTableError(f"capability {name!r} names unknown role {role!r}")
        countries = spec.get("countries")
        capabilities[name] = Capability(
            name=name,
            roles=frozenset(expanded),
            user_flags=frozenset(spec.get("user_flags") or ()),
            account_settings=frozenset(spec.get("account_settings") or ()),
            countries=frozenset(countries) if countries is not None else None,
            not_account_types=frozenset(spec.get("not_account_types") or ()),
            write=bool(spec.get("write", False)),
        )
    if not capabilities:
        raise PermissionTableError("the table defines no capabilities")
    return PermissionTable(roles, capabilities)


@cache
def load_table(path: Path = TABLE_PATH) -> PermissionTable:
    """Read and validate the table once per process."""
    with open(path, encoding="utf-8") as handle:
        return parse_table(yaml.safe_load(handle))
