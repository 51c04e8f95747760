"""The audit log: who, as which role, on which account, did or tried what, when, how.

Writes are audited inside their own transaction (the entry exists exactly when
the change does); probes and denials are recorded in a separate transaction so
they survive the request's rollback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.services import models as m

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
        user_id=principal.user.id,
        email=principal.user.email,
        role=principal.role,
        account_id=principal.account_id,
        channel=principal.channel,
        action=action,
        target=target[:120],
        outcome=outcome,
        detail=detail or {},
    )


def add(session: Session, principal: Principal, **fields: Any) -> None:
    """Record within the caller's transaction (for writes)."""
    session.add(entry(principal, **fields))


def record_now(engine: Engine, principal: Principal, **fields: Any) -> None:
    """Record in a transaction of its own (for probes and denials)."""
    with Session(engine) as session, session.begin():
        session.add(entry(principal, **fields))
