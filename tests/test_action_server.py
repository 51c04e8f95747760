"""The action server answers only the Rasa server, and only on loopback unless told otherwise.

Starts the real action server process (`assistant.actions_command`, as `make run` and
the e2e stack do) against the real account services, and calls it over HTTP.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set

import httpx
import pytest

from bot import assistant
from bot.settings import Settings, load_settings
from tests.conftest import (
    ROOT,
    TEST_ACTIONS_SECRET,
    free_port,
    service_env,
    start_services,
    stop_services,
)

TCP_LISTEN = "0A"


def action_call(action: str, sender: str = "crafted") -> Dict[str, Any]:
    """What Rasa posts to /webhook: an action to run on a tracker (here, an anonymous one)."""
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {"language": "en"},
            "latest_message": {"text": "support phone", "intent": {}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


class ActionServer:
    def __init__(self, settings: Settings, process: subprocess.Popen) -> None:
        self.settings = settings
        self.process = process
        self.url = f"http://127.0.0.1:{settings.actions_port}"

    def call(self, method: str, path: str, headers: Optional[Dict[str, str]] = None, **kw: Any):
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    workdir = tmp_path_factory.mktemp("actions")
    services = start_services("sqlite", f"sqlite:///{workdir / 'premier.db'}")
    env = service_env(services.database_url, int(services.base_url.rsplit(":", 1)[1]))
    # Nothing says where to bind: the default must be loopback (an empty value also
    # hides any ACTIONS_HOST a developer's .env may hold).
    env.update({"ACTIONS_PORT": str(free_port()), "ACTIONS_HOST": ""})
    settings = load_settings(env, env_file=None)
    log = open(workdir / "actions.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        assistant.actions_command(settings),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = ActionServer(settings, process)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (workdir / "actions.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the action server did not start"
            try:
                if server.call("GET", "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        stop_services(services)


NOT_THE_SECRET = {
    "no header": None,
    "wrong secret": {"Authorization": "Bearer wrong"},
    "secret without Bearer": {"Authorization": TEST_ACTIONS_SECRET},
    "secret with a byte more": {"Authorization": f"Bearer {TEST_ACTIONS_SECRET}x"},
    "secret with the last byte changed": {"Authorization": f"Bearer {TEST_ACTIONS_SECRET[:-1]}b"},
    "another scheme": {"Authorization": f"Basic {TEST_ACTIONS_SECRET}"},
    "secret in another header": {"X-Actions-Secret": TEST_ACTIONS_SECRET},
}


@pytest.mark.parametrize("headers", NOT_THE_SECRET.values(), ids=NOT_THE_SECRET.keys())
def test_listing_the_actions_needs_the_secret(action_server, headers):
    response = action_server.call("GET", "/actions", headers)
    assert response.status_code == 401
    assert response.content == b""  # no detail, and no action names


@pytest.mark.parametrize("headers", NOT_THE_SECRET.values(), ids=NOT_THE_SECRET.keys())
def test_a_crafted_action_call_without_the_secret_runs_nothing(action_server, headers):
    for action in ("action_support_contact", "action_confirm_change"):
        response = action_server.call("POST", "/webhook", headers, json=action_call(action))
        assert response.status_code == 401
        assert response.content == b""


def test_the_secret_in_the_query_string_is_not_accepted(action_server):
    # Rasa's endpoint `token:` travels in the URL (and so in access logs); it is not used.
    response = action_server.call("GET", f"/actions?token={TEST_ACTIONS_SECRET}")
    assert response.status_code == 401


def test_with_the_secret_the_action_server_answers(action_server):
    secret = {"Authorization": f"Bearer {TEST_ACTIONS_SECRET}"}
    listed = action_server.call("GET", "/actions", secret)
    assert listed.status_code == 200
    assert {"name": "action_confirm_change"} in listed.json()
    ran = action_server.call("POST", "/webhook", secret, json=action_call("action_support_contact"))
    assert ran.status_code == 200
    responses = ran.json()["responses"]
    assert [r["response"] for r in responses] == ["utter_support_contacts"]
    assert "+44 20 7946 0321" in responses[0]["contacts"]  # read from the real services


def test_health_stays_open_and_says_nothing(action_server):
    response = action_server.call("GET", "/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_no_browser_origin_is_allowed(action_server):
    response = action_server.call(
        "OPTIONS",
        "/webhook",
        {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


def _listening_addresses(port: int) -> Set[str]:
    """The local addresses with a TCP socket listening on `port` (IPv4 and IPv6)."""
    found: Set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == TCP_LISTEN and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_it_listens_on_loopback_only_by_default(action_server):
    assert action_server.settings.actions_host == "127.0.0.1"
    loopback = socket.inet_aton("127.0.0.1")[::-1].hex().upper()  # /proc's byte order
    assert _listening_addresses(action_server.settings.actions_port) == {loopback}


def _secrets(settings: Settings) -> List[str]:
    return [
        settings.actions_secret,
        settings.rasa_api_token,
        settings.chat_secret,
        settings.download_secret,
    ]


def test_no_secret_is_on_the_action_servers_command_line(action_server):
    settings = action_server.settings
    argv = Path(f"/proc/{action_server.process.pid}/cmdline").read_bytes().decode()
    planned = " ".join(assistant.actions_command(settings))
    for secret in _secrets(settings):
        assert secret not in argv and secret not in planned
