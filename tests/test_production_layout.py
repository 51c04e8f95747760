"""`make run-prod`'s layout, read without starting it: the environment, nginx, the parts.

The running layout and its faults are tried in tests/e2e/test_production.py.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bot.production import (
    nginx_config,
    production_environment,
    production_parts,
    replica_ports,
    write_nginx_config,
)
from bot.settings import load_settings
from tests.conftest import service_env

SECRETS = {
    name: service_env("sqlite://", 0)[name]
    for name in ("DOWNLOAD_SECRET", "RASA_API_TOKEN", "CHAT_SECRET", "ACTIONS_SECRET")
}


def production_settings(**extra: str):  # type: ignore[no-untyped-def]
    env = production_environment({**SECRETS, "ENTRY_PORT": "18090", **extra})
    return env, load_settings(env, env_file=None)


def test_every_part_runs_in_production_mode_on_postgresql_and_redis_behind_one_address():
    env, settings = production_settings()
    assert settings.production
    assert settings.database_url.startswith("postgresql")
    assert settings.tracker_store_url.startswith("postgresql")
    assert settings.database_url != settings.tracker_store_url
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    entry = "http://127.0.0.1:18090"
    assert (settings.portal_origin, settings.chat_url, settings.public_url) == (entry,) * 3
    assert settings.rasa_url == entry  # the Slack app's calls spread over the replicas too
    assert env["LOG_FORMAT"] == "json"


def test_a_local_sqlite_setting_is_replaced_but_another_host_is_kept():
    env, _ = production_settings(
        DATABASE_URL="sqlite:///var/premier.db",
        TRACKER_STORE_URL="postgresql+psycopg2://db.internal/conversations",
    )
    assert env["DATABASE_URL"].startswith("postgresql+psycopg2://postgres@127.0.0.1")
    assert env["TRACKER_STORE_URL"] == "postgresql+psycopg2://db.internal/conversations"


def test_two_replicas_and_two_workers_each_behind_nginx(tmp_path):
    _, settings = production_settings()
    ports = replica_ports(settings)
    parts = production_parts(settings, ports, tmp_path / "nginx.conf")
    names = [part.name for part in parts]
    assert names[-1].startswith("nginx")  # the entry opens when everything behind it is ready
    replicas = [part for part in parts if "replica" in part.name]
    assert [part.env["RASA_PORT"] for part in replicas] == [str(p) for p in ports]
    assert [part.wait for part in replicas] == [False, True]  # they load their models together
    assert all(part.health_url.endswith("/webhooks/health/ready") for part in replicas)
    services = next(part for part in parts if part.name.startswith("account services"))
    assert services.command[-2:] == ["--workers", "2"]
    actions = next(part for part in parts if part.name.startswith("action server"))
    assert actions.env == {"ACTION_SERVER_SANIC_WORKERS": "2"}


def test_nginx_exposes_the_chat_but_never_rasas_api():
    _, settings = production_settings()
    config = nginx_config(settings, replica_ports(settings))
    routed = {
        line.split()[1] for line in config.splitlines() if line.strip().startswith("location")
    }
    assert routed == {"=", "~", "/webhooks/", "/downloads/", "/"}
    assert "location ~ ^/(widget|desk)/socket\\.io/" in config
    assert config.count("proxy_set_header Upgrade $http_upgrade") == 1
    assert "proxy_pass http://127.0.0.1:8000;" not in config.split("location / {")[1]


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed here")
def test_nginx_accepts_the_generated_configuration():
    _, settings = production_settings()
    config = write_nginx_config(settings, replica_ports(settings))
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(config.parent), "-c", str(config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr
