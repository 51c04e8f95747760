"""`python -m bot token`: mints for demo people, refuses in production."""

from __future__ import annotations

import subprocess
import sys

from bot import tokens
from tests.conftest import ROOT, TEST_VERIFY_KEY, service_env


def run_cli(services, *args, **env):
    environment = service_env(services.database_url, 0)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_for_a_person_and_a_chosen_account(services):
    result = run_cli(services, "token", "diego.admin@globex.example", "--account", "acme")
    assert result.returncode == 0, result.stderr
    identity = tokens.verify_token(TEST_VERIFY_KEY, result.stdout.strip())
    assert identity.user_id == services.user_id("diego.admin@globex.example")
    assert identity.account_id == services.account_id("Acme Corporation")


def test_token_for_an_unknown_account_lists_the_persons_accounts(services):
    result = run_cli(services, "token", "ben.buyer@acme.example", "--account", "Globex")
    assert result.returncode == 1
    assert "Acme Corporation" in result.stderr


def test_token_is_refused_in_production(services):
    production = {
        "APP_ENV": "production",
        "DATABASE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        "TRACKER_STORE_URL": "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    result = run_cli(services, "token", "ana.admin@acme.example", **production)
    assert result.returncode == 2
    assert "refused" in result.stderr and result.stdout == ""
