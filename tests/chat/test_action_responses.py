"""The kept validator accepts and refuses the action server's answers exactly as Rasa does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot.chat import action_responses

ANSWERS = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "language", "value": "es"}],
        "responses": [{"text": "hola"}],
    },
    {"events": [{"event": "slot", "name": "x", "value": {"nested": [1, 2]}}]},
    {},
    {"events": "not a list"},
    {"events": [{"name": "no event key"}]},
    {"events": [{"event": 7}]},
    {"responses": "nope"},
    {"events": [{"event": "slot", "timestamp": "yesterday"}]},
]


def outcome(action: RemoteAction, answer: dict) -> str:
    try:
        return "valid" if action._validate_action_result(answer) else "invalid"
    except ValidationError as error:
        return f"refused: {error.message}"


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_same_answers_pass_and_the_same_errors_are_reported(answer):
    action = RemoteAction("action_anything", EndpointConfig("http://127.0.0.1:1"))
    rasas = outcome(action, answer)
    action_responses.install()
    try:
        ours = outcome(action, answer)
    finally:
        action_responses.uninstall()
    assert ours == rasas
