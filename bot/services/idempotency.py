"""Exactly-once writes: the first request with a key acts, repeats replay its answer.

The key's record is inserted in the same transaction as the write, under a
unique constraint, so two concurrent repeats cannot both act: the second waits
for the first to commit, hits the constraint, and replays the stored answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Callable, Dict, Optional, Tuple

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.services import audit
from bot.services import models as m
from bot.services.context import Ctx
from bot.services.errors import BadRequest, Conflict

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{8,100}$")
Result = Tuple[int, Dict[str, Any]]


def check_key(key: Optional[str]) -> str:
    if not key:
        raise BadRequest(
            "writes need an Idempotency-Key header (8-100 letters, digits, '-', '_', '.', ':')"
        )
    if not KEY_PATTERN.match(key):
        raise BadRequest("the Idempotency-Key must be 8-100 letters, digits, '-', '_', '.', ':'")
    return key


def _fingerprint(action: str, account_id: Any, payload: Dict[str, Any]) -> str:
    # The account is part of the request's meaning: one key reused in another account is a
    # different request, refused rather than replayed with the first account's answer.
    canonical = json.dumps(
        {"action": action, "account": account_id, "payload": payload}, sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(session: Session, user_id: int, key: str, fingerprint: str) -> Optional[Result]:
    record = session.scalar(select(m.IdempotencyRecord).filter_by(user_id=user_id, key=key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Conflict(
            "this Idempotency-Key was already used for a different request",
            reason="idempotency_key_reused",
        )
    return record.status_code, dict(record.body, replayed=True)


def run_write(
    ctx: Ctx,
    *,
    key: Optional[str],
    payload: Dict[str, Any],
    target: str,
    act: Callable[[], BaseModel],
    status_code: int = 200,
) -> Result:
    """Perform `act` once per (user, key), audited, in one transaction.

    Args:
        ctx: the request context; its capability names the action.
        key: the client's Idempotency-Key.
        payload: the request's meaning, to spot a key reused for something else.
        target: what the write is about, for the audit log.
        act: does the write with `ctx.session` and returns the response model.
    Returns:
        (status code, body); a replay carries "replayed": true.
    Raises:
        Conflict: the key was used before for a different request.
        ServiceError: whatever `act` raises; nothing is written then.
    """
    key = check_key(key)
    session, user_id = ctx.session, ctx.principal.user.id
    fingerprint = _fingerprint(ctx.capability, ctx.principal.account_id, payload)
    previous = _replay(session, user_id, key, fingerprint)
    if previous is not None:
        return previous
    ctx.writing = True
    try:
        record = m.IdempotencyRecord(
            user_id=user_id, key=key, request_hash=fingerprint, status_code=0, body={}
        )
        session.add(record)
        session.flush()
        body = act()
        record.status_code, record.body = status_code, json.loads(body.json())
        audit.add(
            session,
            ctx.principal,
            action=ctx.capability,
            target=target,
            outcome="ok",
            detail={"idempotency_key": key},
        )
        session.commit()
        return status_code, record.body
    except IntegrityError:
        session.rollback()
        replay = _replay(session, user_id, key, fingerprint)
        if replay is None:
            raise Conflict("the change conflicts with the account's current data") from None
        return replay
    except BaseException:
        session.rollback()
        raise
    finally:
        ctx.writing = False
        ctx.record_deferred_probes()
