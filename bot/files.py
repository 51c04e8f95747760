"""Files that hold personal data: created readable and writable by their owner only.

SQLite creates a missing database file with the process's umask (usually 0644:
readable by every local user); the account data and the conversations must not
be. Creating the file first, owner-only, fixes that for the file and for its
`-wal` and `-shm` companions, which SQLite creates with the database's mode.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url


def private_sqlite_file(url: str) -> None:
    """Create the SQLite file of `url` owner-only if it is missing (other URLs: nothing)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:":
        return
    os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    descriptor = os.open(parsed.database, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
