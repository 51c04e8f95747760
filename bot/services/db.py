"""Engine factory and schema migration; no engine exists until a factory runs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from bot.files import private_sqlite_file

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def create_engine(database_url: str) -> Engine:
    """Build the engine for `database_url` with settings that suit each backend.

    SQLite gets a generous busy timeout (concurrent writers wait rather than
    fail) and enforced foreign keys; PostgreSQL gets a checked pool.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        private_sqlite_file(database_url)
        engine = sa_create_engine(
            url, future=True, connect_args={"timeout": 30, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return sa_create_engine(url, future=True, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Bring the schema to the newest revision."""
    command.upgrade(alembic_config(database_url), "head")
