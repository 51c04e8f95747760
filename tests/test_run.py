"""`make run` starts every part of the product, each on its configured address."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time

import httpx

from bot import assistant
from bot.run import Part, parts, stop
from bot.settings import PROJECT_ROOT, load_settings

ENV = {
    "CHAT_SECRET": "c" * 40,
    "DOWNLOAD_SECRET": "d" * 40,
    "RASA_API_TOKEN": "r" * 40,
    "ACTIONS_SECRET": "a" * 40,
    "SERVICES_PORT": "8100",
    "RASA_PORT": "5105",
    "ACTIONS_PORT": "5155",
}


def test_every_part_is_started_on_its_configured_port():
    started = parts(load_settings(ENV, env_file=None))
    assert [p.name for p in started] == [
        "account services",
        "action server",
        "assistant (Rasa)",
        "demo portal + chat widget",
    ]
    assert started[0].health_url == "http://127.0.0.1:8100/health"
    assert started[1].health_url == "http://127.0.0.1:5155/health"
    assert started[2].public_url.startswith("http://127.0.0.1:5105/webhooks/portal/webhook")


def test_no_secret_is_on_any_command_line_and_endpoints_follow_from_the_settings():
    settings = load_settings(ENV, env_file=None)
    commands = {p.name: p.command for p in parts(settings)}
    for command in commands.values():
        for secret in ("a" * 40, "c" * 40, "d" * 40, "r" * 40):
            assert not any(secret in argument for argument in command)
        assert "--auth-token" not in command and "--cors" not in command
    local = commands["assistant (Rasa)"]
    assert local[local.index("--endpoints") + 1] == str(assistant.ENDPOINTS_FILE)
    embedded = assistant.endpoints_config(settings)
    assert embedded["action_endpoint"]["url"] == "http://127.0.0.1:5155/webhook"
    assert embedded["lock_store"] == {"type": "in_memory"}
    assert embedded["tracker_store"]["type"] == "bot.chat.tracker_store.PrivateSQLTrackerStore"
    production = assistant.endpoints_config(
        load_settings(
            dict(
                ENV,
                APP_ENV="production",
                DATABASE_URL="postgresql+psycopg2://db.internal/premier",
                TRACKER_STORE_URL="postgresql+psycopg2://db.internal/tracker",
                REDIS_URL="redis://:pw@cache.internal:6380/2",
                ACTIONS_URL="http://actions.internal:5055/webhook",
                TOKEN_PRIVATE_KEY_FILE="/run/secrets/token.pem",
                TOKEN_PUBLIC_KEY_FILE="/run/secrets/token.pub.pem",
            ),
            env_file=None,
        )
    )
    assert production["action_endpoint"]["url"] == "http://actions.internal:5055/webhook"
    assert production["lock_store"]["type"] == "bot.chat.lock_store.SettingsRedisLockStore"
    assert "pw" not in str(production)  # the stores read their secrets from the settings


def _process(code: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # the child has installed its signal handlers
    return process


# Each child sets its own handlers: a disposition inherited from whatever started the suite
# (an ignored SIGINT, as under `command &`) must not decide what "polite" means.
STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
for signum in {signals}:
    signal.signal(signum, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(120)
"""


def test_stop_leaves_nothing_running_even_when_a_part_ignores_ctrl_c():
    polite = _process(STUBBORN.format(signals="[]"))
    deaf_to_ctrl_c = _process(STUBBORN.format(signals="[signal.SIGINT]"))
    deaf_to_both = _process(STUBBORN.format(signals="[signal.SIGINT, signal.SIGTERM]"))
    running = [
        Part(name, ["unused"], "http://unused", "unused", process)
        for name, process in (("a", polite), ("b", deaf_to_ctrl_c), ("c", deaf_to_both))
    ]
    stop(running, grace=5.0)  # a loaded machine may take a while to deliver SIGINT
    assert polite.returncode == -signal.SIGINT
    assert deaf_to_ctrl_c.returncode == -signal.SIGTERM
    assert deaf_to_both.returncode == -signal.SIGKILL


RUNNER = """
import sys
from bot import assistant, run
from bot.run import Part
from tests.conftest import settings_for_tests

assistant.model_is_stale = lambda: False
assistant.write_endpoints = lambda settings: None
ports = [int(p) for p in sys.argv[1:]]
run.parts = lambda settings: [
    Part(
        f"part {port}",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        f"http://127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}/",
    )
    for port in ports
]
sys.exit(run.run_all(settings_for_tests()))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def test_ctrl_c_stops_the_runner_and_every_part_even_when_started_in_the_background():
    # `command &` in a script starts the runner with SIGINT ignored; it must still stop.
    ports = [_free_port(), _free_port()]
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *map(str, ports)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 60
        while not all(_answers(port) for port in ports):
            assert runner.poll() is None and time.monotonic() < deadline, "parts did not start"
            time.sleep(0.3)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=30) == 0
        assert not any(_answers(port) for port in ports)
    finally:
        if runner.poll() is None:  # the runner stops its parts on SIGTERM
            runner.terminate()
            try:
                runner.wait(timeout=30)
            except subprocess.TimeoutExpired:
                runner.kill()


def test_the_action_server_secret_reaches_rasa_in_process_and_never_the_endpoints_file(tmp_path):
    settings = load_settings(ENV, env_file=None)
    written = assistant.write_endpoints(settings, tmp_path / "endpoints.yml")
    assert "a" * 40 not in written.read_text()
    action = assistant.available_endpoints(settings, written).action
    assert action.url == "http://127.0.0.1:5155/webhook"
    assert action.headers == {"Authorization": f"Bearer {'a' * 40}"}


def test_the_action_server_binds_loopback_unless_told_otherwise():
    assert load_settings(ENV, env_file=None).actions_host == "127.0.0.1"
    anywhere = load_settings(dict(ENV, ACTIONS_HOST="0.0.0.0"), env_file=None)
    assert anywhere.actions_host == "0.0.0.0"
    assert anywhere.actions_url == "http://127.0.0.1:5155/webhook"


MORTAL_PART = """
import http.server, os, sys

class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/die":
            os._exit(3)
        super().do_GET()

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

SUPERVISED_RUNNER = """
import sys
from bot import assistant, run
from tests.conftest import settings_for_tests
from bot.run import Part

assistant.model_is_stale = lambda: False
assistant.write_endpoints = lambda settings: None
mortal, steady = (int(p) for p in sys.argv[1:3])
run.parts = lambda settings: [
    Part("mortal", [sys.executable, "-c", sys.argv[3], str(mortal)],
         f"http://127.0.0.1:{mortal}/", ""),
    Part("steady", [sys.executable, "-m", "http.server", str(steady), "--bind", "127.0.0.1"],
         f"http://127.0.0.1:{steady}/", ""),
]
sys.exit(run.run_all(settings_for_tests()))
"""


def _wait_for(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_part_that_exits_is_started_again_while_the_others_keep_serving():
    mortal, steady = _free_port(), _free_port()
    runner = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED_RUNNER, str(mortal), str(steady), MORTAL_PART],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _answers(mortal) and _answers(steady), 60, "parts did not start")
        for _ in range(2):  # the second death waits longer, and still comes back
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{mortal}/die", timeout=2)
            _wait_for(lambda: not _answers(mortal), 10, "the part did not exit")
            assert _answers(steady), "the other part stopped serving"
            _wait_for(lambda: _answers(mortal), 20, "the part was not started again")
        assert runner.poll() is None, "the runner stopped"
    finally:
        runner.send_signal(signal.SIGINT)
        output, _ = runner.communicate(timeout=30)
    assert "mortal exited with code 3; starting it again in 1 s" in output
    assert "mortal exited with code 3; starting it again in 2 s" in output
    assert not _answers(mortal) and not _answers(steady)
