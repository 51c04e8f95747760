"""One message followed through every part by its request id (issue 13: production logs).

The stack logs JSON lines (`LOG_FORMAT=json`, tests/e2e/conftest.py); the channel is sent
an `X-Request-ID` as nginx sends its `$request_id`, and the lines of the Rasa server, the
action server and the account services for that message are found by it, as an operator
would with `jq 'select(.request_id == "...")'`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Dict, List

import httpx

ANA = "ana.admin@acme.example"
QUESTION = "what is the premier support phone number for EMEA?"


def _lines(stack, request_id: str) -> List[Dict[str, Any]]:
    found = []
    for path in stack.workdir.glob("*.log"):
        for raw in path.read_text(errors="replace").splitlines():
            if raw.startswith("{") and request_id in raw:
                found.append(json.loads(raw))
    return found


def _lines_of_every_part(stack, request_id: str) -> List[Dict[str, Any]]:
    """The lines under `request_id` once the three parts have each written theirs (or 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        lines = _lines(stack, request_id)
        if {"rasa", "actions", "services"} <= {line["part"] for line in lines}:
            return lines
        if time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def _ask(stack, request_id: str, token: str) -> httpx.Response:
    stack.tokens_sent.add(token)
    return httpx.post(
        f"{stack.rasa_url}/webhooks/portal/webhook",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
        json={"sender": "e2e-request-id", "message": QUESTION},
        timeout=120,
    )


def test_one_message_is_followed_by_its_request_id_through_every_part(stack):
    request_id = uuid.uuid4().hex  # what nginx's $request_id looks like
    answer = _ask(stack, request_id, stack.services.token(ANA, "Acme Corporation"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == request_id
    assert "+44 20 7946 0321" in "\n".join(m.get("text", "") for m in answer.json())

    lines = _lines_of_every_part(stack, request_id)
    by_part: Dict[str, List[Dict[str, Any]]] = {}
    for line in lines:
        assert line["request_id"] == request_id
        by_part.setdefault(line["part"], []).append(line)
    assert {"rasa", "actions", "services"} <= set(by_part), lines
    # The channel's turn, in the Rasa server.
    (turn,) = [line for line in by_part["rasa"] if line["logger"] == "bot.chat.layer"]
    assert turn["message"].startswith("portal message answered in ")
    # The custom action that answered, in the action server.
    actions = [line["data"]["action"] for line in by_part["actions"] if "data" in line]
    assert any(name.startswith("action_") for name in actions), by_part["actions"]
    # Its calls to the account services, one access line each.
    paths = {line["data"]["path"] for line in by_part["services"]}
    assert "/support-contacts" in paths, by_part["services"]
    assert all(line["data"]["status"] == 200 for line in by_part["services"])


def test_a_malformed_request_id_is_replaced_and_the_new_one_followed(stack):
    offered = "not a request id; 'quoted'"
    answer = _ask(stack, offered, stack.services.token(ANA, "Acme Corporation"))
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-request-id"]
    assert request_id != offered and len(request_id) == 32
    assert {"rasa", "actions", "services"} <= {
        line["part"] for line in _lines_of_every_part(stack, request_id)
    }
    assert not _lines(stack, offered)


def test_the_portals_calls_to_the_services_carry_the_page_requests_id(stack):
    """A portal page's data (what nginx sends with its `$request_id`) is found by that id."""
    with httpx.Client(base_url=stack.portal_url, timeout=60) as portal:
        signed_in = portal.post("/api/sign-in", json={"email": ANA}, headers={"X-Portal": "1"})
        assert signed_in.status_code == 200, signed_in.text
        request_id = uuid.uuid4().hex
        answer = portal.get("/api/areas/invoices", headers={"X-Request-ID": request_id})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == request_id
    deadline = time.monotonic() + 15
    while not [line for line in _lines(stack, request_id) if line["part"] == "services"]:
        assert time.monotonic() < deadline, "no services line carries the portal's request id"
        time.sleep(0.2)
    paths = {
        line["data"]["path"] for line in _lines(stack, request_id) if line["part"] == "services"
    }
    assert any(path.startswith("/invoices") for path in paths), paths
