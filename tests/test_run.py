"""`make run` starts every part of the product, each on its configured address."""

from __future__ import annotations

import signal
import subprocess
import sys

from bot.run import Part, parts, stop
from bot.settings import load_settings

ENV = {
    "TOKEN_SECRET": "t" * 40,
    "DOWNLOAD_SECRET": "d" * 40,
    "RASA_API_TOKEN": "r" * 40,
    "SERVICES_PORT": "8100",
    "RASA_PORT": "5105",
    "ACTIONS_PORT": "5155",
}


def test_every_part_is_started_on_its_configured_port():
    started = parts(load_settings(ENV, env_file=None))
    assert [p.name for p in started] == ["account services", "action server", "assistant (Rasa)"]
    assert started[0].health_url == "http://127.0.0.1:8100/health"
    assert started[1].health_url == "http://127.0.0.1:5155/health"
    assert started[2].public_url.startswith("http://127.0.0.1:5105/webhooks/portal/webhook")


def test_rasa_api_needs_the_token_and_production_uses_its_own_stores():
    local = parts(load_settings(ENV, env_file=None))[2].command
    assert "--auth-token" in local and "r" * 40 in local
    assert local[local.index("--endpoints") + 1] == "endpoints.yml"
    production = parts(load_settings(dict(ENV, APP_ENV="production"), env_file=None))[2].command
    assert production[production.index("--endpoints") + 1] == "endpoints.production.yml"


def _process(code: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # the child has installed its signal handlers
    return process


STUBBORN = """
import signal, sys, time
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
    stop(running, grace=1.0)
    assert polite.returncode == -signal.SIGINT
    assert deaf_to_ctrl_c.returncode == -signal.SIGTERM
    assert deaf_to_both.returncode == -signal.SIGKILL
