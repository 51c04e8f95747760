"""The audit log: who, as which role, on which account, did or tried what, when, how.

Writes are audited inside their own transaction (the entry exists exactly when
the change does); denials are recorded in a separate transaction so they survive
the request's rollback. Probes (another account's object asked for) are handed
to an `AuditWriter`, which records them off the request path: a probe must be
answered in the time a miss is, so its row cannot be written while the caller waits.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from bot.services import models as m

log = logging.getLogger(__name__)
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)

if TYPE_CHECKING:
    from bot.services.context import Principal


def entry(
    principal: Principal,
    *,
    action: str,
    outcome: str,
    target: str = "",
    detail: Optional[Dict[str, Any]] = None,
) -> m.AuditEvent:
    return m.AuditEvent(
        **values(principal, action=action, outcome=outcome, target=target, detail=detail)
    )


def values(
    principal: Principal,
    *,
    action: str,
    outcome: str,
    target: str = "",
    detail: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """An audit row's columns, read now (the caller's objects belong to its session)."""
    return {
        "at": m.utcnow(),
        "user_id": principal.user.id,
        "email": principal.user.email,
        "role": principal.role,
        "account_id": principal.account_id,
        "channel": principal.channel,
        "action": action,
        "target": target[:120],
        "outcome": outcome,
        "detail": detail or {},
    }


def anonymous_values(
    *,
    channel: str,
    action: str,
    outcome: str,
    target: str = "",
    detail: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """The columns of an event nobody could be named for (a refused token, a bad link)."""
    return {
        "at": m.utcnow(),
        "user_id": None,
        "email": None,
        "role": None,
        "account_id": None,
        "channel": channel,
        "action": action,
        "target": target[:120],
        "outcome": outcome,
        "detail": detail or {},
    }


def add(session: Session, principal: Principal, **fields: Any) -> None:
    """Record within the caller's transaction (for writes)."""
    session.add(entry(principal, **fields))


def record_now(engine: Engine, principal: Principal, **fields: Any) -> None:
    """Record in a transaction of its own (for denials: they survive the request's rollback)."""
    with Session(engine) as session, session.begin():
        session.add(entry(principal, **fields))


class AuditWriter:
    """Records audit rows in a worker thread, after the request that caused them.

    `submit` only queues the row's values (their time taken when the event
    happened) and wakes nothing, so it costs the request nothing measurable. The
    worker wakes on a clock of its own, every `interval` seconds, and writes the
    rows queued at least `settle` seconds ago in one transaction: by then the
    request that queued one has answered, so the write never shares the CPU or the
    database with it (a wake-up per probe, or a write while its answer is still
    being sent, would each take a little of that probe's time). Rows the
    database cannot take yet (busy, locked, away) are retried until they are
    written; `close` (at shutdown) writes everything still queued. A row is logged
    in full instead only when the database refuses it outright or is still away
    when `close`'s time is up. After `close`, `submit` writes at once.
    """

    def __init__(
        self, engine: Engine, *, interval: float = 0.05, settle: float = 0.1, batch: int = 200
    ):
        self._engine = engine
        self._interval = interval
        self._settle = settle
        self._batch = batch
        self._queue: Deque[Tuple[float, Dict[str, Any]]] = deque()  # (queued at, row)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._deadline: Optional[float] = None  # set by close: when to stop retrying
        self._writing: List[Dict[str, Any]] = []  # the batch the worker is on

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def submit(self, principal: Principal, **fields: Any) -> None:
        """Record an event of `principal` soon, after the current request."""
        self.submit_row(values(principal, **fields))

    def submit_anonymous(self, **fields: Any) -> None:
        """Record an event without a person (see `anonymous_values`) soon."""
        self.submit_row(anonymous_values(**fields))

    def submit_row(self, row: Dict[str, Any]) -> None:
        """Queue an audit row's values; written by the worker after the current request."""
        with self._lock:
            if not self._closed:
                self._start()
                self._queue.append((time.monotonic(), row))
                return
        self._write_until_done([row])

    def close(self, timeout: float = 30.0) -> None:
        """Write every queued row, then stop the worker (waits at most about `timeout`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._deadline = time.monotonic() + timeout
            thread = self._thread
        self._stop.set()
        if thread is None:
            self._write_queued()
            return
        thread.join(timeout + 5)
        if thread.is_alive():  # stuck in one attempt past the deadline: keep the rows in the log
            _log_unwritten(self._writing + [row for _, row in self._queue])

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self._interval)
            self._write_queued(everything=stopping)
            if stopping:
                return

    def _write_queued(self, *, everything: bool = True) -> None:
        while True:
            settled = time.monotonic() - self._settle
            rows: List[Dict[str, Any]] = []
            while self._queue and len(rows) < self._batch:
                queued_at, row = self._queue[0]
                if not everything and queued_at > settled:
                    break
                rows.append(self._queue.popleft()[1])
            if not rows:
                return
            self._writing = rows
            self._write_until_done(rows)
            self._writing = []

    def _write_until_done(self, rows: List[Dict[str, Any]]) -> None:
        pause = 0.05
        while True:
            try:
                with Session(self._engine) as session, session.begin():
                    session.add_all([m.AuditEvent(**row) for row in rows])
                return
            except TRANSIENT:  # busy, locked or away: the rows go in once it answers
                if self._deadline is not None and time.monotonic() > self._deadline:
                    _log_unwritten(rows)
                    return
                log.warning("audit rows not written yet; retrying", exc_info=True)
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
            except Exception:  # a row the database will never take must not hold up the rest
                if len(rows) == 1:
                    log.exception("audit row refused by the database")
                    _log_unwritten(rows)
                    return
                for row in rows:
                    self._write_until_done([row])
                return


def _log_unwritten(rows: List[Dict[str, Any]]) -> None:
    """The last resort for rows the database did not take: the log holds them in full."""
    for row in rows:
        log.error("audit row not written: %s", json.dumps(row, default=str))
