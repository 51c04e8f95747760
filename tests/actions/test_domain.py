"""The domain and the action server agree: every custom action it names is served.

The action server registers the `actions` package the way `python -m rasa_sdk`
does; a name in `domain/` that nothing implements would fail only at run time,
in the middle of a conversation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import yaml
from rasa_sdk.executor import ActionExecutor

from actions.forms import AccountFormValidation

ROOT = Path(__file__).resolve().parents[2]


def domain_files() -> Dict[str, Dict[str, Any]]:
    return {
        path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for path in sorted((ROOT / "domain").glob("*.yml"))
    }


def served() -> Dict[str, Any]:
    executor = ActionExecutor()
    executor.register_package("actions")
    return executor.actions


def test_every_custom_action_of_the_domain_is_served():
    actions = served()
    for area, domain in domain_files().items():
        missing = set(domain.get("actions") or []) - set(actions)
        assert not missing, f"domain/{area}.yml names actions nobody implements: {missing}"


def test_the_action_server_serves_nothing_the_domain_does_not_name():
    named = set()
    for domain in domain_files().values():
        named |= set(domain.get("actions") or [])
    assert set(served()) - named == set()


def test_every_form_is_validated_with_exactly_its_slots():
    actions = served()
    for area, domain in domain_files().items():
        for form, spec in (domain.get("forms") or {}).items():
            validation = actions[f"validate_{form}"].__self__  # the registered action's instance
            if isinstance(validation, AccountFormValidation):
                assert list(validation.form_slots) == spec["required_slots"], f"{area}: {form}"
