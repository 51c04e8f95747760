"""Structured logs and the request id: what a log line holds, and which ids are trusted.

The formatter is checked on a logger of its own; `configure_logging`, which takes over the
whole process's logging, runs in a child process so this one's logging stays pytest's.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import subprocess
import sys
import uuid
from typing import Any, Dict, Iterator, List

import pytest

from bot import tokens
from bot.observability import (
    accept_request_id,
    current_request_id,
    json_formatter,
    new_request_id,
    request_scope,
)
from bot.settings import PROJECT_ROOT
from tests.conftest import service_env

PRIVATE, _ = tokens.generate_key_pair()
TOKEN = tokens.mint_token(PRIVATE, user_id=7, account_id=3)
NGINX_ID = "0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"


class Captured:
    """A logger whose records are written by the JSON formatter into a buffer."""

    def __init__(self, part: str = "services") -> None:
        self.buffer = io.StringIO()
        handler = logging.StreamHandler(self.buffer)
        handler.setFormatter(json_formatter(part))
        self.logger = logging.getLogger(f"tests.observability.{uuid.uuid4().hex}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(handler)

    def lines(self) -> List[Dict[str, Any]]:
        text = self.buffer.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    yield Captured()


def test_each_record_is_one_json_line_with_the_fields(captured):
    captured.logger.info("first\nsecond")
    captured.logger.warning("%s apples", 3)
    first, second = captured.lines()  # a newline in a message does not split the line
    assert first["message"] == "first\nsecond"
    assert (first["level"], second["level"]) == ("info", "warning")
    assert first["logger"] == captured.logger.name and first["part"] == "services"
    assert second["message"] == "3 apples"
    moment = dt.datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert first["time"].endswith("Z") and moment.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.timezone.utc) - moment) < dt.timedelta(minutes=1)
    assert "request_id" not in first and "exception" not in first


def test_a_line_carries_the_request_id_of_its_context(captured):
    with request_scope(NGINX_ID):
        assert current_request_id() == NGINX_ID
        captured.logger.info("during")
    captured.logger.info("after")
    during, after = captured.lines()
    assert during["request_id"] == NGINX_ID
    assert "request_id" not in after and current_request_id() is None


def test_tokens_and_card_numbers_are_masked_everywhere_in_a_line(captured):
    try:
        raise ValueError(f"refused {TOKEN}")
    except ValueError:
        captured.logger.exception(
            "call with Bearer %s for card 4111 1111 1111 1111",
            TOKEN,
            extra={"data": {"path": f"/downloads/{TOKEN}", "nested": [{"token": TOKEN}]}},
        )
    (line,) = captured.lines()
    raw = captured.buffer.getvalue()
    assert TOKEN not in raw and TOKEN.split(".")[2] not in raw
    assert "4111 1111 1111 1111" not in raw
    assert line["message"] == "call with Bearer [token removed] for card •••• 1111"
    assert line["data"] == {
        "path": "/downloads/[token removed]",
        "nested": [{"token": "[token removed]"}],
    }
    assert "ValueError: refused [token removed]" in line["exception"]
    assert "Traceback" in line["exception"]


@pytest.mark.parametrize(
    "offered",
    [NGINX_ID, str(uuid.uuid4()), "req_2026-12-03_0001"],
    ids=["nginx", "uuid", "letters-digits-dash-underscore"],
)
def test_a_well_formed_request_id_is_kept(offered):
    assert accept_request_id(offered) == offered


@pytest.mark.parametrize(
    "offered",
    [
        None,
        "",
        "short",
        "a" * 65,
        "has space in it",
        "line\nbreak-injected",
        "ünïcode-id-123",
        TOKEN,
    ],
    ids=["none", "empty", "short", "too-long", "space", "newline", "non-ascii", "token"],
)
def test_a_malformed_request_id_is_replaced_by_a_new_one(offered):
    replaced = accept_request_id(offered)
    assert replaced != offered
    assert len(replaced) == 32 and int(replaced, 16) >= 0  # nginx's shape: 32 hex


def test_new_request_ids_differ():
    assert len({new_request_id() for _ in range(100)}) == 100


CHILD = """
import logging, sys, warnings
import structlog
from sanic import Sanic
from bot.observability import configure_logging, request_scope
from bot.settings import load_settings

app = Sanic("child_app")  # installs Sanic's own handlers, as Rasa's app does
logging.basicConfig(level=logging.INFO, format="TEXT %(message)s")
configure_logging(load_settings(), "rasa")
configure_logging(load_settings(), "rasa")  # a second call changes nothing
with request_scope("0f9d2c4b8a7e6f5d4c3b2a1908f7e6d5"):
    logging.getLogger("sanic.error").error("sanic says")
    logging.getLogger("bot.chat.layer").info("ours")
    structlog.get_logger().info("rasa.event", text="card 4111 1111 1111 1111", n=2)
    warnings.warn("python warns")
logging.getLogger("uvicorn.error").warning("after the request")
"""


def _run_child(log_format: str) -> subprocess.CompletedProcess:
    env = service_env("sqlite://", 0)
    env.update({"LOG_FORMAT": log_format})
    return subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_mode_makes_every_record_of_the_process_a_json_line():
    result = _run_child("json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == ""
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    by_logger = {line["logger"]: line for line in lines}
    # One line each: no handler of Sanic's or of basicConfig's is left to write a second.
    assert len(lines) == 5, result.stderr
    assert set(by_logger) == {
        "sanic.error",
        "bot.chat.layer",
        "__main__",
        "py.warnings",
        "uvicorn.error",
    }
    assert {line["part"] for line in lines} == {"rasa"}
    assert by_logger["sanic.error"]["request_id"] == NGINX_ID
    assert by_logger["bot.chat.layer"]["request_id"] == NGINX_ID
    assert "request_id" not in by_logger["uvicorn.error"]
    assert "python warns" in by_logger["py.warnings"]["message"]
    event = by_logger["__main__"]  # structlog's event, through the same formatter
    assert event["message"] == "rasa.event"
    assert event["data"] == {"text": "card •••• 1111", "n": 2}
    assert event["request_id"] == NGINX_ID


def test_text_mode_leaves_the_process_logging_as_it_was():
    result = _run_child("text")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TEXT ours" in result.stderr
    assert not any(line.startswith("{") for line in result.stderr.splitlines())
