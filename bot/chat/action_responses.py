"""The action server's answers checked against Rasa's schema with a validator built once.

Rasa checks every answer of the action server with `jsonschema.validate`, which first checks
the schema itself against its meta-schema and builds a new validator: on the account
questions of `make bench` that was more than a third of the Rasa process's busy time, for a
schema that never changes. The replacement builds the validator once and reports the same
error Rasa would (the best match among the errors, with Rasa's hint appended).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_ORIGINAL: Dict[str, Any] = {}


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    """Rasa's `RemoteAction._validate_action_result`, with the validator kept."""
    error = best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Use the kept validator in this process (the Rasa server calls this once)."""
    if not _ORIGINAL:
        _ORIGINAL["check"] = RemoteAction._validate_action_result
        RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


def uninstall() -> None:
    if _ORIGINAL:
        RemoteAction._validate_action_result = _ORIGINAL.pop("check")  # type: ignore[method-assign]
