"""The running stack keeps its secrets off command lines, its action server private, CORS exact,
and bounds what its chat endpoint accepts.

Issue 9, items 2 and 4 and the bounds, checked on the real processes the e2e stack started.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import httpx
import pytest

from bot.settings import MAX_CHAT_BODY_BYTES, MAX_HEADER_BYTES

EVIL = "http://evil.example"


def _secrets(stack) -> List[str]:
    settings = stack.settings
    return [
        settings.actions_secret,
        settings.rasa_api_token,
        settings.chat_secret,
        settings.download_secret,
    ]


def test_no_secret_is_on_the_command_line_of_any_running_part(stack):
    processes = [*stack.processes, stack.services.process]
    assert len(processes) >= 3  # services, action server, Rasa, and whatever else the stack runs
    for process in processes:
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert argv.strip(), "the process is not running"
        for secret in _secrets(stack):
            assert secret not in argv, argv


def test_the_actions_secret_is_never_logged(stack):
    stack.texts("hello")
    logs = "\n".join(path.read_text(errors="replace") for path in stack.workdir.glob("*.log"))
    assert stack.settings.actions_secret not in logs


def test_the_running_action_server_answers_only_the_rasa_server(stack):
    actions = f"http://127.0.0.1:{stack.settings.actions_port}"
    crafted = {
        "next_action": "action_confirm_change",
        "sender_id": "attacker",
        "tracker": {"sender_id": "attacker", "slots": {}, "events": [], "latest_message": {}},
        "domain": {},
    }
    assert httpx.get(f"{actions}/actions", timeout=30).status_code == 401
    refused = httpx.post(f"{actions}/webhook", json=crafted, timeout=30)
    assert refused.status_code == 401 and refused.content == b""
    # The Rasa server does reach it: a turn that runs a custom action gets its answer.
    reply = stack.texts("what is the premier support phone number for EMEA?", sender="sec-1")
    assert "+44 20 7946 0321" in reply


def test_the_rasa_http_api_still_needs_its_token(stack):
    assert httpx.get(f"{stack.rasa_url}/status", timeout=30).status_code == 401
    token = {"token": stack.settings.rasa_api_token}
    assert httpx.get(f"{stack.rasa_url}/status", params=token, timeout=30).status_code == 200


def _preflight(stack, origin: str) -> httpx.Response:
    return httpx.options(
        f"{stack.rasa_url}/webhooks/portal/webhook",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=30,
    )


def test_cors_allows_the_portal_origin(stack):
    portal = stack.settings.portal_origin
    assert portal == "http://127.0.0.1:8080"
    preflight = _preflight(stack, portal)
    assert preflight.headers.get("access-control-allow-origin") == portal
    page = httpx.get(f"{stack.rasa_url}/webhooks/portal/", headers={"Origin": portal}, timeout=30)
    assert page.status_code == 200
    assert page.headers.get("access-control-allow-origin") == portal


@pytest.mark.parametrize(
    "origin",
    [EVIL, "null", "http://127.0.0.1:8081", "https://127.0.0.1:8080", "http://127.0.0.1:8080.evil"],
)
def test_cors_allows_no_other_origin(stack, origin):
    preflight = _preflight(stack, origin)
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    page = httpx.get(f"{stack.rasa_url}/webhooks/portal/", headers={"Origin": origin}, timeout=30)
    assert "access-control-allow-origin" not in page.headers


# --- what the chat endpoint accepts: bounded bodies and headers -----------------------------


def test_a_chat_body_over_the_bound_is_refused_before_anything_reads_it(stack):
    token = stack.services.token("ana.admin@acme.example")
    stack.tokens_sent.add(token)
    body = b'{"message": "' + b"x" * (MAX_CHAT_BODY_BYTES + 1) + b'"}'
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/portal/webhook",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413
    # a long message within the bound is still answered (cut to the layer's 2,000 characters)
    assert stack.say("x" * 10_000, token, sender="bound")


def test_chat_request_headers_over_the_bound_are_refused(stack):
    try:
        response = httpx.get(
            f"{stack.rasa_url}/webhooks/portal/",
            headers={"X-Padding": "a" * (MAX_HEADER_BYTES + 1)},
            timeout=30,
        )
        assert response.status_code in (400, 413, 431)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        pass  # or the server hangs up: nothing of the request was processed
    assert httpx.get(f"{stack.rasa_url}/webhooks/portal/", timeout=30).status_code == 200


def test_chat_replies_are_never_cached(stack):
    token = stack.services.token("ben.buyer@acme.example")
    stack.tokens_sent.add(token)
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/portal/webhook",
        json={"message": "show my unpaid invoices"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
