"""Settings: one typed object; production refuses placeholder secrets."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings, write_env_file

GOOD = {"TOKEN_SECRET": "t" * 40, "DOWNLOAD_SECRET": "d" * 40, "RASA_API_TOKEN": "r" * 40}


def test_defaults_are_local_sqlite_and_documented_ports():
    settings = load_settings(GOOD, env_file=None)
    assert settings.environment == "local"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.services_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("secret", ["", "change-me"])
def test_production_refuses_placeholder_secrets(secret):
    env = dict(GOOD, APP_ENV="production", TOKEN_SECRET=secret)
    with pytest.raises(SettingsError, match="TOKEN_SECRET"):
        load_settings(env, env_file=None)


def test_missing_secret_locally_says_how_to_fix():
    with pytest.raises(SettingsError, match="make env"):
        load_settings({"DOWNLOAD_SECRET": "d" * 40, "RASA_API_TOKEN": "r" * 40}, env_file=None)


def test_malformed_number_is_a_clear_error():
    with pytest.raises(SettingsError, match="SERVICES_PORT"):
        load_settings(dict(GOOD, SERVICES_PORT="eighty"), env_file=None)


def test_env_file_gets_fresh_secrets_and_is_never_overwritten(tmp_path):
    target = tmp_path / ".env"
    assert write_env_file(target) is True
    first = target.read_text()
    assert "change-me" not in first
    settings = load_settings({}, env_file=target)
    assert len(settings.token_secret) >= 32 and settings.token_secret != settings.download_secret
    assert write_env_file(target) is False
    assert target.read_text() == first


def test_an_older_env_file_gains_only_the_missing_secrets(tmp_path):
    target = tmp_path / ".env"
    target.write_text("TOKEN_SECRET=keep-this-one-" + "k" * 30 + "\n")
    assert write_env_file(target) is True
    settings = load_settings({}, env_file=target)
    assert settings.token_secret == "keep-this-one-" + "k" * 30
    assert settings.download_secret and settings.rasa_api_token
