"""Settings: one typed object; production refuses placeholder secrets and names what is missing."""

from __future__ import annotations

import stat

import pytest

from bot import tokens
from bot.settings import SettingsError, load_settings, write_env_file, write_key_pair

GOOD = {
    "DOWNLOAD_SECRET": "d" * 40,
    "RASA_API_TOKEN": "r" * 40,
    "CHAT_SECRET": "c" * 40,
    "ACTIONS_SECRET": "a" * 40,
}
PRODUCTION = dict(
    GOOD,
    APP_ENV="production",
    DATABASE_URL="postgresql+psycopg2://db.internal/premier",
    TRACKER_STORE_URL="postgresql+psycopg2://db.internal/tracker",
    REDIS_URL="redis://cache.internal:6379/1",
    TOKEN_PRIVATE_KEY_FILE="/run/secrets/token.pem",
    TOKEN_PUBLIC_KEY_FILE="/run/secrets/token.pub.pem",
)


def test_defaults_are_local_sqlite_in_memory_stores_and_documented_ports():
    settings = load_settings(GOOD, env_file=None)
    assert settings.environment == "local"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.tracker_store_url.startswith("sqlite:///")
    assert settings.redis_url is None
    assert settings.services_url == "http://127.0.0.1:8000"
    assert settings.actions_url == "http://127.0.0.1:5055/webhook"


def test_the_action_server_address_follows_its_port():
    settings = load_settings(dict(GOOD, ACTIONS_PORT="5999"), env_file=None)
    assert settings.actions_url == "http://127.0.0.1:5999/webhook"


def test_a_complete_production_configuration_loads():
    settings = load_settings(PRODUCTION, env_file=None)
    assert settings.production and settings.redis_url == "redis://cache.internal:6379/1"


@pytest.mark.parametrize("name", ["CHAT_SECRET", "ACTIONS_SECRET"])
@pytest.mark.parametrize("secret", ["", "change-me"])
def test_production_refuses_placeholder_secrets(name, secret):
    with pytest.raises(SettingsError, match=name):
        load_settings(dict(PRODUCTION, **{name: secret}), env_file=None)


def test_production_refuses_a_missing_actions_secret():
    env = {k: v for k, v in PRODUCTION.items() if k != "ACTIONS_SECRET"}
    with pytest.raises(SettingsError, match="ACTIONS_SECRET"):
        load_settings(env, env_file=None)


def test_the_portal_is_the_default_and_only_cors_origin():
    assert load_settings(GOOD, env_file=None).portal_origin == "http://127.0.0.1:8080"
    portal = load_settings(dict(GOOD, PORTAL_ORIGIN="https://premier.example/"), env_file=None)
    assert portal.portal_origin == "https://premier.example"


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://*.example",
        "premier.example",
        "https://premier.example/chat",
        "ftp://x.example",
        "https://a.example,https://b.example",
        "https://premier.example?x=1",
    ],
)
def test_a_portal_origin_must_be_exactly_one_origin(origin):
    with pytest.raises(SettingsError, match="PORTAL_ORIGIN"):
        load_settings(dict(GOOD, PORTAL_ORIGIN=origin), env_file=None)


@pytest.mark.parametrize(
    "missing", ["DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL", "TOKEN_PRIVATE_KEY_FILE"]
)
def test_an_incomplete_production_configuration_names_what_is_missing(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        load_settings(env, env_file=None)


def test_every_missing_production_setting_is_named_at_once():
    with pytest.raises(SettingsError) as error:
        load_settings(dict(GOOD, APP_ENV="production"), env_file=None)
    for name in ("DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL", "TOKEN_PUBLIC_KEY_FILE"):
        assert name in str(error.value)


def test_sqlite_is_refused_for_production_data():
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings(dict(PRODUCTION, DATABASE_URL="sqlite:///premier.db"), env_file=None)


def test_a_redis_url_must_be_redis():
    with pytest.raises(SettingsError, match="REDIS_URL"):
        load_settings(dict(GOOD, REDIS_URL="memcached://x"), env_file=None)


def test_missing_secret_locally_says_how_to_fix():
    with pytest.raises(SettingsError, match="make env"):
        load_settings({"DOWNLOAD_SECRET": "d" * 40, "RASA_API_TOKEN": "r" * 40}, env_file=None)


def test_malformed_number_is_a_clear_error():
    with pytest.raises(SettingsError, match="SERVICES_PORT"):
        load_settings(dict(GOOD, SERVICES_PORT="eighty"), env_file=None)


def test_a_missing_key_file_is_a_clear_error(tmp_path):
    settings = load_settings(
        dict(GOOD, TOKEN_PUBLIC_KEY_FILE=str(tmp_path / "absent.pem")), env_file=None
    )
    with pytest.raises(SettingsError, match="make env"):
        settings.token_verification_key()


def test_env_file_gets_fresh_secrets_and_is_never_overwritten(tmp_path):
    target = tmp_path / ".env"
    assert write_env_file(target) is True
    first = target.read_text()
    assert "change-me" not in first
    settings = load_settings({}, env_file=target)
    assert len(settings.chat_secret) >= 32 and settings.chat_secret != settings.download_secret
    assert len(settings.actions_secret) >= 32 and settings.actions_secret != settings.chat_secret
    assert write_env_file(target) is False
    assert target.read_text() == first


def test_an_older_env_file_gains_only_the_missing_secrets(tmp_path):
    target = tmp_path / ".env"
    target.write_text("DOWNLOAD_SECRET=keep-this-one-" + "k" * 30 + "\n")
    assert write_env_file(target) is True
    settings = load_settings({}, env_file=target)
    assert settings.download_secret == "keep-this-one-" + "k" * 30
    assert settings.chat_secret and settings.rasa_api_token and settings.actions_secret


def test_the_key_pair_is_made_once_with_an_owner_only_private_key(tmp_path):
    private, public = tmp_path / "keys" / "signing.pem", tmp_path / "keys" / "signing.pub.pem"
    assert write_key_pair(private, public) is True
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    first = private.read_text()
    assert write_key_pair(private, public) is False and private.read_text() == first
    settings = load_settings(
        dict(GOOD, TOKEN_PRIVATE_KEY_FILE=str(private), TOKEN_PUBLIC_KEY_FILE=str(public)),
        env_file=None,
    )
    token = tokens.mint_token(settings.token_signing_key(), user_id=1, account_id=2)
    assert tokens.verify_token(settings.token_verification_key(), token).account_id == 2


def test_logs_are_text_locally_and_json_in_production_unless_told():
    assert load_settings(GOOD, env_file=None).log_format == "text"
    assert load_settings(PRODUCTION, env_file=None).log_format == "json"
    assert load_settings(dict(PRODUCTION, LOG_FORMAT="text"), env_file=None).log_format == "text"
    assert load_settings(dict(GOOD, LOG_FORMAT="JSON"), env_file=None).log_format == "json"


def test_an_unknown_log_format_is_a_clear_error():
    with pytest.raises(SettingsError, match="LOG_FORMAT must be text or json, not 'yaml'"):
        load_settings(dict(GOOD, LOG_FORMAT="yaml"), env_file=None)


def test_download_links_and_the_rasa_address_default_to_the_parts_own():
    settings = load_settings(dict(GOOD, RASA_PORT="5111"), env_file=None)
    assert settings.public_url == settings.services_url == "http://127.0.0.1:8000"
    assert settings.rasa_url == "http://127.0.0.1:5111"
    behind = load_settings(
        dict(GOOD, PUBLIC_URL="https://premier.example.com/", RASA_URL="http://rasa:5005"),
        env_file=None,
    )
    assert (behind.public_url, behind.rasa_url) == (
        "https://premier.example.com",
        "http://rasa:5005",
    )


@pytest.mark.parametrize("name", ["PUBLIC_URL", "RASA_URL"])
def test_an_address_with_a_path_is_refused_by_name(name):
    with pytest.raises(SettingsError, match=name):
        load_settings(dict(GOOD, **{name: "https://example.com/chat"}), env_file=None)
