"""The documented setup: the manifest matches the app; `make run` starts it when configured."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import yaml

from bot.run import parts
from bot.settings import PROJECT_ROOT, SettingsError, load_settings, write_env_file
from bot.slack import NOT_CONFIGURED
from bot.slack.app import EVENTS_PATH
from bot.slack.listeners.commands import COMMAND
from tests.conftest import service_env, settings_for_tests

MANIFEST = PROJECT_ROOT / "bot" / "slack" / "manifest.yml"


def test_the_manifest_sends_slack_what_the_app_listens_to():
    manifest = yaml.safe_load(MANIFEST.read_text())
    settings = manifest["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert {urlsplit(u).path for u in urls} == {EVENTS_PATH}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [COMMAND]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    }
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "im:history", "im:write", "app_mentions:read"} <= scopes


def test_make_run_starts_the_slack_app_only_when_configured_and_no_secret_is_on_its_command():
    unconfigured = [p.name for p in parts(settings_for_tests())]
    assert "Slack app" not in unconfigured
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-" + "b" * 30,
        "SLACK_SIGNING_SECRET": "g" * 32,
        "SLACK_SERVICE_SECRET": "v" * 32,
        "SLACK_PORT": "3123",
    }
    (slack,) = [p for p in parts(settings_for_tests(**secrets)) if p.name == "Slack app"]
    assert slack.command == [sys.executable, "-m", "bot.slack"]
    assert slack.health_url == "http://127.0.0.1:3123/health"
    assert slack.public_url.startswith("http://127.0.0.1:3123/slack/events")
    for value in secrets.values():
        assert not any(value in argument for argument in slack.command)


def test_without_a_bot_token_the_slack_app_says_in_one_line_how_to_configure_it(tmp_path):
    env = service_env("sqlite://", 0)
    env.update({"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": ""})
    result = subprocess.run(
        [sys.executable, "-m", "bot.slack"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == NOT_CONFIGURED
    assert "SLACK_BOT_TOKEN" in NOT_CONFIGURED and "\n" not in NOT_CONFIGURED


def test_production_refuses_a_slack_app_without_real_secrets():
    env = service_env("postgresql+psycopg2://db/premier", 0)
    env.update(
        APP_ENV="production",
        TRACKER_STORE_URL="postgresql+psycopg2://db/tracker",
        REDIS_URL="redis://cache:6379/0",
        SLACK_BOT_TOKEN="xoxb-" + "b" * 30,
        SLACK_SIGNING_SECRET="",
        SLACK_SERVICE_SECRET="change-me",
    )
    with pytest.raises(SettingsError) as refused:
        load_settings(env, env_file=None)
    assert "SLACK_SIGNING_SECRET" in str(refused.value)
    assert "SLACK_SERVICE_SECRET" in str(refused.value)


def test_make_env_generates_the_slack_apps_credential(tmp_path):
    target = tmp_path / ".env"
    assert write_env_file(target) is True
    settings = load_settings({}, env_file=target)
    assert settings.slack_service_secret and len(settings.slack_service_secret) >= 32
    assert settings.slack_service_secret not in {settings.chat_secret, settings.actions_secret}
    assert not settings.slack_configured  # the bot token and signing secret come from Slack
