"""Shared fixtures: the account services running for real, on SQLite and on PostgreSQL.

Every test that takes `services` runs once per database backend against a real
HTTP server in its own process, on a freshly migrated and seeded database.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, Iterator, Optional

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bot import tokens
from bot.services import models as m
from bot.services.db import create_engine, migrate
from bot.services.seed import seed
from bot.settings import RATE_DEFAULTS, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
# A key pair for this test run: the services sign with the private key, everyone else verifies.
TEST_SIGNING_KEY, TEST_VERIFY_KEY = tokens.generate_key_pair()
TEST_KEYS_DIR = Path(tempfile.mkdtemp(prefix="premier-test-keys-"))
TEST_PRIVATE_KEY_FILE = TEST_KEYS_DIR / "token-signing.pem"
TEST_PUBLIC_KEY_FILE = TEST_KEYS_DIR / "token-signing.pub.pem"
TEST_PRIVATE_KEY_FILE.write_text(TEST_SIGNING_KEY)
TEST_PRIVATE_KEY_FILE.chmod(0o600)
TEST_PUBLIC_KEY_FILE.write_text(TEST_VERIFY_KEY)
TEST_CHAT_SECRET = "test-chat-secret-" + "c" * 32
TEST_DOWNLOAD_SECRET = "test-download-secret-" + "y" * 32
TEST_ACTIONS_SECRET = "test-actions-secret-" + "a" * 32
TEST_SLACK_SERVICE_SECRET = "test-slack-service-" + "q" * 32
UNLIMITED_RATE = 1_000_000  # requests a minute: no test process is rate-limited unless it asks
POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServices:
    """A live account-services process and the handles tests need around it."""

    backend: str
    base_url: str
    database_url: str
    engine: Engine
    process: subprocess.Popen
    _users: Dict[str, int] = field(default_factory=dict)

    def user_id(self, email: str) -> int:
        if email not in self._users:
            with Session(self.engine) as session:
                self._users[email] = session.scalar(select(m.User.id).filter_by(email=email))
        return self._users[email]

    def account_id(self, name: str) -> int:
        with Session(self.engine) as session:
            return int(session.scalar(select(m.Account.id).filter_by(name=name)))

    def token(
        self,
        email: str,
        account: Optional[str] = None,
        *,
        ttl: dt.timedelta = dt.timedelta(minutes=30),
        channel: str = "test",
        now: Optional[dt.datetime] = None,
        auth_time: Optional[dt.datetime] = None,
    ) -> str:
        """A token as the portal's sign-in would sign it; `account` defaults to the person's first.

        The sign-in happens at `now` (default: this moment) unless `auth_time` says it was earlier.
        """
        user_id = self.user_id(email)
        with Session(self.engine) as session:
            language = session.scalar(select(m.User.language).filter_by(id=user_id))
            query = select(m.Membership).filter_by(user_id=user_id).order_by(m.Membership.id)
            memberships = list(session.scalars(query))
            if account is None:
                account_id = memberships[0].account_id if memberships else None
            else:
                account_id = self.account_id(account)
        return tokens.mint_token(
            TEST_SIGNING_KEY,
            user_id=user_id,
            account_id=account_id,
            channel=channel,
            language=language,
            ttl=ttl,
            now=now,
            auth_time=auth_time,
        )

    def headers(self, email: str, account: Optional[str] = None) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token(email, account)}"}

    def client(self, email: Optional[str] = None, account: Optional[str] = None) -> httpx.Client:
        headers = self.headers(email, account) if email else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def service_env(database_url: str, port: int) -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "SERVICES_PORT": str(port),
            "HOST": "127.0.0.1",
            "SERVICES_URL": f"http://127.0.0.1:{port}",
            "TOKEN_PRIVATE_KEY_FILE": str(TEST_PRIVATE_KEY_FILE),
            "TOKEN_PUBLIC_KEY_FILE": str(TEST_PUBLIC_KEY_FILE),
            "DOWNLOAD_SECRET": TEST_DOWNLOAD_SECRET,
            "RASA_API_TOKEN": "test-rasa-api-token-" + "z" * 32,
            "CHAT_SECRET": TEST_CHAT_SECRET,
            "ACTIONS_SECRET": TEST_ACTIONS_SECRET,
            "SLACK_SERVICE_SECRET": TEST_SLACK_SERVICE_SECRET,
            # Tests are heavy callers from one address (the fuzz run alone sends thousands of
            # requests); the rate-limit tests set their own small budgets.
            **{name: str(UNLIMITED_RATE) for name, _ in RATE_DEFAULTS},
            # A loaded CI machine may take a moment; the fault tests use the real default.
            "SERVICES_TIMEOUT_MS": "10000",
        }
    )
    return env


def settings_for_tests(**overrides: str) -> Settings:
    """The settings every test process runs with (test keys and secrets), plus `overrides`."""
    env = service_env("sqlite://", 0)
    env.update(overrides)
    return load_settings(env, env_file=None)


def start_services(
    backend: str,
    database_url: str,
    log: Optional[IO[str]] = None,
    overrides: Optional[Dict[str, str]] = None,
) -> RunningServices:
    """Migrate, seed and serve a database; the process's output goes to `log` when given.

    `overrides` are settings for this process on top of `service_env`'s.
    """
    migrate(database_url)
    engine = create_engine(database_url)
    seed(engine)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "services"],
        cwd=ROOT,
        env={**service_env(database_url, port), **(overrides or {})},
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the account services exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return RunningServices(backend, base_url, database_url, engine, process)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the account services did not become healthy within 60 s")


def stop_services(running: RunningServices) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
    running.engine.dispose()


def postgres_available() -> Optional[str]:
    """None when PostgreSQL answers; otherwise why not."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL)
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: not available here
        return f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).host}: {exc}"


def _admin(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def services(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServices]:
    """The account services on a fresh demo world, once per database backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "premier.db"
        running = start_services("sqlite", f"sqlite:///{path}")
        yield running
        stop_services(running)
        return
    problem = postgres_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI. {problem}")
        pytest.skip(problem)
    name = f"premier_test_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    running = start_services("postgresql", url)
    try:
        yield running
    finally:
        stop_services(running)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class AuditLog:
    """The audit events matching the given column values: `audit_rows(expect=2, action=...)`.

    `expect=n` waits (up to 15 s) until n rows match: a probe's audit row is written
    off the request path, a little after the answer (bot/services/audit.py).
    `after=` (from `mark()`) keeps only the rows a test wrote itself: the log is shared
    by the whole session, and SQLite reuses the ids of deleted rows that targets name.
    """

    def __init__(self, services: RunningServices) -> None:
        self.services = services

    def __call__(self, expect: Optional[int] = None, after: int = 0, **where: object) -> list:
        deadline = time.monotonic() + 15
        while True:
            with Session(self.services.engine) as session:
                found = list(
                    session.scalars(
                        select(m.AuditEvent)
                        .filter_by(**where)
                        .where(m.AuditEvent.id > after)
                        .order_by(m.AuditEvent.id)
                    )
                )
            if expect is None or len(found) >= expect or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def mark(self) -> int:
        """The newest row's id now: pass it as `after=` to see only what follows."""
        with Session(self.services.engine) as session:
            return int(session.scalar(select(func.coalesce(func.max(m.AuditEvent.id), 0))))

    def settle(self, quiet: float = 0.3, timeout: float = 15.0) -> int:
        """Wait until no audit row has arrived for `quiet` seconds; the newest id then.

        The writer lands a queued row within about 0.15 s of its request
        (`AuditWriter`'s interval plus settle), so a snapshot taken after `quiet`
        seconds of silence holds every row earlier requests, earlier tests' included,
        will write, and a later difference is the work of what came after it.
        """
        deadline = time.monotonic() + timeout
        newest = self.mark()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.mark()
            if now == newest:
                break
            newest = now
        return newest


@pytest.fixture(scope="session")
def audit_rows(services: RunningServices) -> AuditLog:
    return AuditLog(services)


@pytest.fixture(scope="session")
def trained_model() -> Path:
    """The assistant's model (`make train`), trained first when the data changed since."""
    from bot import assistant

    if assistant.model_is_stale():
        result = subprocess.run(assistant.train_command(), cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            pytest.fail(f"training failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return assistant.model_path()
