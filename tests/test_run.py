"""`make run` starts every part of the product, each on its configured address."""

from __future__ import annotations

from bot.run import parts
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
