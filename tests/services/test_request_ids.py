"""The services run each request under its `X-Request-ID`, answer with it, and log it once.

A services process of its own with `LOG_FORMAT=json`, its output in a file: the
access lines are read back from there, as an operator would with `jq`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest

from tests.conftest import RunningServices, start_services, stop_services

ANA = "ana.admin@acme.example"
NGINX_ID = "0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"


@dataclass
class LoggedServices:
    """The services and the file their log goes to."""

    services: RunningServices
    log_file: Path

    def text(self) -> str:
        return self.log_file.read_text()

    def access_lines(self, request_id: str) -> List[Dict[str, Any]]:
        """The access lines under `request_id` (waits briefly: a line follows its answer)."""
        deadline = time.monotonic() + 10
        while True:
            found = [
                line
                for line in map(json.loads, filter(_is_json, self.text().splitlines()))
                if line.get("request_id") == request_id and line["logger"] == "bot.services.access"
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.1)


def _is_json(line: str) -> bool:
    return line.startswith("{")


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServices]:
    workdir = tmp_path_factory.mktemp("logged-services")
    log_file = workdir / "services.log"
    with open(log_file, "w") as log:
        running = start_services(
            "sqlite", f"sqlite:///{workdir / 'premier.db'}", log, overrides={"LOG_FORMAT": "json"}
        )
        yield LoggedServices(running, log_file)
        stop_services(running)


def test_the_callers_id_is_answered_and_logged_once_with_the_request(logged):
    token = logged.services.token(ANA)
    answer = httpx.get(
        f"{logged.services.base_url}/invoices",
        params={"status": "unpaid"},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": NGINX_ID},
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.headers["x-request-id"] == NGINX_ID
    (line,) = logged.access_lines(NGINX_ID)
    assert line["request_id"] == NGINX_ID and line["part"] == "services"
    assert line["level"] == "info" and line["message"].startswith("GET /invoices 200 ")
    assert line["data"]["method"] == "GET" and line["data"]["path"] == "/invoices"
    assert line["data"]["status"] == 200 and line["data"]["duration_ms"] >= 0
    text = logged.text()
    # Neither the credential nor the query string is ever written.
    assert token not in text and token.split(".")[2] not in text
    assert "unpaid" not in text


def test_a_malformed_id_is_replaced_and_a_missing_one_made(logged):
    bad = httpx.get(
        f"{logged.services.base_url}/support-contacts",
        headers={"X-Request-ID": "not an id; drop it"},
        timeout=30,
    )
    made = httpx.get(f"{logged.services.base_url}/support-contacts", timeout=30)
    for answer in (bad, made):
        request_id = answer.headers["x-request-id"]
        assert len(request_id) == 32 and int(request_id, 16) >= 0
        (line,) = logged.access_lines(request_id)
        assert line["data"]["path"] == "/support-contacts"
    assert bad.headers["x-request-id"] != made.headers["x-request-id"]
    assert "not an id" not in logged.text()


def test_refusals_at_the_edge_are_logged_and_a_links_token_is_masked(logged):
    link_token = logged.services.token(ANA)  # JWT-shaped, like a signed download link's
    refused = httpx.get(
        f"{logged.services.base_url}/downloads/{link_token}",
        headers={"X-Request-ID": "download-refused-0001"},
        timeout=30,
    )
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == "download-refused-0001"
    (line,) = logged.access_lines("download-refused-0001")
    assert line["data"]["path"] == "/downloads/[token removed]"
    assert line["data"]["status"] == 401
    assert link_token not in logged.text()


def test_health_probes_answer_with_an_id_but_leave_no_line(logged):
    answer = httpx.get(
        f"{logged.services.base_url}/health",
        headers={"X-Request-ID": "health-probe-0001"},
        timeout=30,
    )
    assert answer.headers["x-request-id"] == "health-probe-0001"
    time.sleep(0.5)
    assert "health-probe-0001" not in logged.text()
