"""The handoff desk: conversations handed from the assistant to a person (docs/handoff.md).

Customer side under `/handoffs` (capability `request_human`), desk side under `/desk`
(`handoff_desk`, support agents). Every state change is one conditional UPDATE on the
state it starts from, checked by its row count: of two concurrent claims (or a claim and
a cancel) exactly one changes the row, on SQLite (writers take turns) and on PostgreSQL
(the second UPDATE waits for the first and re-reads the row). Every text stored is
masked with `bot.chat.redact.redact`, whatever the caller sent.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import statistics
from typing import Any, Callable, Dict, Optional

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.chat.redact import redact
from bot.services import audit, views
from bot.services import models as m
from bot.services import schemas as s
from bot.services.context import Ctx, IdempotencyKey, require, require_staff
from bot.services.errors import (
    AlreadyClaimed,
    Conflict,
    HandoffNotOpen,
    NotFound,
    NotYourHandoff,
)
from bot.services.idempotency import run_write
from bot.services.routes.support import create_service_request

router = APIRouter(tags=["handoffs"])
OPEN_STATES = ("waiting", "claimed")
# The expected wait per place in the queue is the median handling time (claim to close) of
# the last MEDIAN_OF closed handoffs, once there are MEDIAN_FROM; the setting until then.
MEDIAN_OF = 20
MEDIAN_FROM = 5
# Transcript lines the desk writes itself (the customer is told in their language elsewhere).
AGENT_JOINED = "agent joined"
AGENT_LEFT = "agent left"
CUSTOMER_LEFT = "customer went back to the assistant"
CONVERTED = "converted to service request {number}"

HANDOFF_ID = inspect.Parameter(
    "handoff_id",
    inspect.Parameter.KEYWORD_ONLY,
    default=Path(..., description="the handoff's id"),
    annotation=s.Id,
)


def _body(model: type) -> inspect.Parameter:
    return inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=model)


desk = require_staff("handoff_desk")
desk_handoff = require_staff("handoff_desk", validated=[HANDOFF_ID])
desk_message = require_staff("handoff_desk", validated=[HANDOFF_ID, _body(s.HandoffMessageIn)])
desk_close = require_staff("handoff_desk", validated=[HANDOFF_ID, _body(s.HandoffClose)])


# --- reading ------------------------------------------------------------------------------


def _seconds(start: dt.datetime, end: dt.datetime) -> int:
    return max(0, int((end - start).total_seconds()))


def _first_name(user: Optional[m.User]) -> Optional[str]:
    return user.name.split()[0] if user is not None and user.name.strip() else None


class Queue:
    """The waiting handoffs' places and the expected wait per place, read once per answer."""

    def __init__(self, ctx: Ctx):
        self.now = m.utcnow()
        waiting = ctx.session.scalars(
            select(m.Handoff.id)
            .where(m.Handoff.state == "waiting")
            .order_by(m.Handoff.created_at, m.Handoff.id)
        )
        self.places = {handoff_id: place for place, handoff_id in enumerate(waiting, start=1)}
        handled = ctx.session.execute(
            select(m.Handoff.claimed_at, m.Handoff.closed_at)
            .where(
                m.Handoff.state == "closed",
                m.Handoff.claimed_at.isnot(None),
                m.Handoff.closed_at.isnot(None),
            )
            .order_by(m.Handoff.closed_at.desc(), m.Handoff.id.desc())
            .limit(MEDIAN_OF)
        ).all()
        if len(handled) >= MEDIAN_FROM:
            self.per_place = float(statistics.median(_seconds(a, b) for a, b in handled))
        else:
            self.per_place = float(ctx.settings.handoff_average_seconds)

    def position(self, handoff: m.Handoff) -> Optional[int]:
        return self.places.get(handoff.id) if handoff.state == "waiting" else None

    def expected_wait(self, handoff: m.Handoff) -> Optional[int]:
        position = self.position(handoff)
        return round(position * self.per_place) if position is not None else None

    def waited(self, handoff: m.Handoff) -> int:
        return _seconds(handoff.created_at, handoff.claimed_at or handoff.closed_at or self.now)

    def status(self, handoff: m.Handoff) -> s.HandoffStatus:
        claimed = handoff.state == "claimed"
        return s.HandoffStatus(
            id=handoff.id,
            state=handoff.state,
            position=self.position(handoff),
            expected_wait_seconds=self.expected_wait(handoff),
            waited_seconds=self.waited(handoff),
            agent_name=_first_name(handoff.agent) if claimed else None,
            language=handoff.language,
            created_at=handoff.created_at,
            claimed_at=handoff.claimed_at,
            closed_at=handoff.closed_at,
            outcome=handoff.outcome,
            version=handoff.version,
        )

    def summary_fields(self, handoff: m.Handoff) -> Dict[str, Any]:
        return {
            "id": handoff.id,
            "state": handoff.state,
            "account_name": handoff.account.name,
            "person_name": handoff.user.name,
            "role": handoff.role,
            "language": handoff.language,
            "channel": handoff.channel,
            "reason": handoff.reason,
            "topic": handoff.topic,
            "created_at": handoff.created_at,
            "waited_seconds": self.waited(handoff),
            "position": self.position(handoff),
            "agent_name": handoff.agent.name if handoff.state == "claimed" else None,
        }

    def summary(self, handoff: m.Handoff) -> s.HandoffSummary:
        return s.HandoffSummary(**self.summary_fields(handoff))

    def detail(self, handoff: m.Handoff) -> s.HandoffDetail:
        return s.HandoffDetail(
            **self.summary_fields(handoff),
            conversation_id=handoff.conversation_id,
            account_id=handoff.account_id,
            country=handoff.account.country,
            slots=dict(handoff.slots or {}),
            messages=[_message_out(line) for line in handoff.messages],
            outcome=handoff.outcome,
            note=handoff.note,
        )


def _message_out(line: m.HandoffMessage) -> s.HandoffMessageOut:
    return s.HandoffMessageOut(
        id=line.id, who=line.who, author=line.author, text=line.text, at=line.at
    )


def _fresh(ctx: Ctx, handoff_id: int) -> Optional[m.Handoff]:
    """The handoff as committed now (not as this session first read it)."""
    return ctx.session.get(m.Handoff, handoff_id, populate_existing=True)


def _missing(handoff_id: int) -> NotFound:
    return NotFound(f"handoff {handoff_id} was not found", what="handoff", id=str(handoff_id))


def _audit(ctx: Ctx, action: str, handoff: m.Handoff, **detail: Any) -> None:
    audit.add(
        ctx.session,
        ctx.principal,
        action=action,
        target=f"handoff {handoff.id}",
        outcome="ok",
        detail={"handoff_id": handoff.id, "account_id": handoff.account_id, **detail},
    )


def _transition(ctx: Ctx, handoff_id: int, *where: Any, **values: Any) -> bool:
    """Change the handoff only if it is still as `where` says; True when this request did.

    The one UPDATE both checks and changes, so concurrent requests cannot both pass.
    """
    result = ctx.session.execute(
        update(m.Handoff)
        .where(m.Handoff.id == handoff_id, *where)
        .values(version=m.Handoff.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def requeue_away_agents(ctx: Ctx, handoff_id: Optional[int] = None) -> None:
    """Send back to the queue the handoffs whose console agent went silent (lazy, on reads).

    A console claim lives on the console's heartbeat (every read of the queue or of the
    handoff); silent longer than `handoff_agent_grace_seconds`, the agent is gone (a closed
    tab, a lost connection) and the customer goes back to waiting. A claim made in Slack has
    no connection to lose: it stays until the agent releases or closes it.
    """
    now = m.utcnow()
    cutoff = now - dt.timedelta(seconds=ctx.settings.handoff_agent_grace_seconds)
    away = (
        m.Handoff.state == "claimed",
        m.Handoff.agent_channel == "console",
        m.Handoff.agent_seen_at < cutoff,
    )
    query = select(m.Handoff).where(*away)
    if handoff_id is not None:
        query = query.where(m.Handoff.id == handoff_id)
    away_now = list(ctx.session.scalars(query))
    for handoff in away_now:
        agent_id = handoff.agent_id
        if _transition(
            ctx,
            handoff.id,
            *away,
            m.Handoff.agent_id == agent_id,
            state="waiting",
            agent_id=None,
            agent_channel=None,
            claimed_at=None,
            agent_seen_at=None,
        ):
            ctx.session.add(m.HandoffMessage(handoff_id=handoff.id, who="system", text=AGENT_LEFT))
            _audit(ctx, "handoff_requeue", handoff, agent_id=agent_id, why="agent_silent")
    if away_now:  # also when another request was first: end the write transaction at once
        ctx.session.commit()


def _commit(ctx: Ctx, act: Callable[[], BaseModel], status_code: int = 200) -> JSONResponse:
    """Commit what `act` wrote (its audit rows included); answer its model."""
    try:
        out = act()
        ctx.session.commit()
    except BaseException:
        ctx.session.rollback()
        raise
    return JSONResponse(json.loads(out.json()), status_code=status_code)


# --- the customer's side -----------------------------------------------------------------


def _own(ctx: Ctx, handoff_id: int) -> m.Handoff:
    """One of the caller's own handoffs; anyone else's is not found (and audited as a probe)."""
    requeue_away_agents(ctx, handoff_id)
    found = ctx.session.scalar(
        select(m.Handoff).filter_by(id=handoff_id, user_id=ctx.principal.user.id)
    )
    if found is not None:
        return found
    owner = ctx.session.scalar(select(m.Handoff.user_id).filter_by(id=handoff_id))
    if owner is not None:
        ctx.probe(f"handoff {handoff_id}", owner_user_id=owner)
    raise _missing(handoff_id)


def _open_for(ctx: Ctx, conversation_id: str) -> Optional[m.Handoff]:
    return ctx.session.scalar(
        select(m.Handoff).where(
            m.Handoff.user_id == ctx.principal.user.id,
            m.Handoff.conversation_id == conversation_id,
            m.Handoff.state.in_(OPEN_STATES),
        )
    )


def _masked(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


@router.post(
    "/handoffs",
    response_model=s.HandoffStatus,
    status_code=201,
    responses={200: {"model": s.HandoffStatus, "description": "this conversation's open one"}},
)
def open_handoff(
    body: s.HandoffCreate,
    ctx: Ctx = Depends(require("request_human")),
    idempotency_key: Optional[str] = IdempotencyKey,
) -> JSONResponse:
    """Hand the conversation to the support desk, with what was said so far (masked).

    A person has at most one open handoff per conversation: asking again answers that one (200).
    """
    requeue_away_agents(ctx)
    existing = _open_for(ctx, body.conversation_id)
    if existing is not None:
        return JSONResponse(json.loads(Queue(ctx).status(existing).json()))

    def act() -> s.HandoffStatus:
        handoff = m.Handoff(
            account_id=ctx.account.id,
            user_id=ctx.principal.user.id,
            role=ctx.principal.role,
            conversation_id=body.conversation_id,
            channel=body.channel,
            language=body.language,
            reason=body.reason,
            topic=_masked(body.topic),
            slots={name: _masked(value) for name, value in body.slots.items()},
            state="waiting",
            version=1,
        )
        ctx.session.add(handoff)
        ctx.session.flush()
        ctx.session.add_all(
            m.HandoffMessage(
                handoff_id=handoff.id, who=line.who, text=redact(line.text), at=line.at
            )
            for line in body.transcript
        )
        ctx.session.flush()
        return Queue(ctx).status(handoff)

    target = f"conversation {body.conversation_id}"
    try:
        if idempotency_key is not None:
            status, out = run_write(
                ctx,
                key=idempotency_key,
                payload=body.dict(),
                target=target,
                act=act,
                status_code=201,
            )
            return JSONResponse(out, status_code=status)

        def audited() -> s.HandoffStatus:
            out = act()
            audit.add(
                ctx.session, ctx.principal, action=ctx.capability, target=target, outcome="ok"
            )
            return out

        return _commit(ctx, audited, status_code=201)
    except (IntegrityError, Conflict) as refused:
        if isinstance(refused, Conflict) and refused.details.get("reason"):
            raise  # the key was used for another request: not a race for the same handoff
        # Another request opened this conversation's handoff a moment ago: that one it is.
        ctx.session.rollback()
        existing = _open_for(ctx, body.conversation_id)
        if existing is None:
            raise
        return JSONResponse(json.loads(Queue(ctx).status(existing).json()))


@router.get("/handoffs/current", response_model=s.HandoffStatus)
def current_handoff(
    conversation_id: s.ConversationId = Query(..., description="the chat's conversation id"),  # type: ignore[valid-type]
    ctx: Ctx = Depends(require("request_human")),
) -> s.HandoffStatus:
    """The caller's open handoff for this conversation."""
    requeue_away_agents(ctx)
    found = _open_for(ctx, conversation_id)
    if found is None:
        raise NotFound("no open handoff for this conversation", what="handoff", id="")
    return Queue(ctx).status(found)


@router.get("/handoffs/{handoff_id}", response_model=s.HandoffStatus)
def handoff_status(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(require("request_human")),
) -> s.HandoffStatus:
    """One of the caller's handoffs, whatever its state."""
    handoff = _own(ctx, handoff_id)  # first: it may send the handoff back to the queue
    return Queue(ctx).status(handoff)


@router.post("/handoffs/{handoff_id}/messages", response_model=s.HandoffMessageOut, status_code=201)
def customer_message(
    body: s.HandoffMessageIn,
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(require("request_human")),
) -> JSONResponse:
    """A message from the customer to the desk, while the handoff is open."""
    handoff = ctx.locked(_own(ctx, handoff_id))
    if handoff.state not in OPEN_STATES:
        raise HandoffNotOpen(f"handoff {handoff_id} is {handoff.state}", state=handoff.state)

    def act() -> s.HandoffMessageOut:
        line = m.HandoffMessage(
            handoff_id=handoff.id,
            who="customer",
            author_id=ctx.principal.user.id,
            author=ctx.principal.user.name,
            text=redact(body.text),
        )
        ctx.session.add(line)
        ctx.session.flush()
        return _message_out(line)

    return _commit(ctx, act, status_code=201)


@router.post("/handoffs/{handoff_id}/cancel", response_model=s.HandoffStatus)
def cancel_handoff(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(require("request_human")),
) -> JSONResponse:
    """The customer goes back to the assistant."""
    handoff = _own(ctx, handoff_id)
    now = m.utcnow()
    if not _transition(
        ctx, handoff.id, m.Handoff.state.in_(OPEN_STATES), state="cancelled", closed_at=now
    ):
        ctx.session.rollback()
        state = _fresh(ctx, handoff.id).state  # type: ignore[union-attr]
        raise HandoffNotOpen(f"handoff {handoff_id} is {state}", state=state)

    def act() -> s.HandoffStatus:
        ctx.session.add(m.HandoffMessage(handoff_id=handoff.id, who="system", text=CUSTOMER_LEFT))
        _audit(ctx, "handoff_cancel", handoff)
        ctx.session.flush()
        return Queue(ctx).status(_fresh(ctx, handoff.id))  # type: ignore[arg-type]

    return _commit(ctx, act)


def transcript_text(handoff: m.Handoff) -> str:
    """The handoff's transcript as a service request's description (already masked)."""
    about = handoff.topic or handoff.reason
    head = f"Support chat ({handoff.channel}, {handoff.language}): {about}"
    lines = [f"[{line.at:%Y-%m-%d %H:%M}] {line.who}: {line.text}" for line in handoff.messages]
    return "\n".join([head, "", *lines])


@router.post(
    "/handoffs/{handoff_id}/service-request",
    response_model=s.CreatedServiceRequest,
    status_code=201,
)
def convert_to_service_request(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(require("request_human")),
) -> JSONResponse:
    """Nobody claimed it in time: a service request with the transcript instead."""
    handoff = _own(ctx, handoff_id)
    if not _transition(
        ctx,
        handoff.id,
        m.Handoff.state == "waiting",
        state="converted",
        closed_at=m.utcnow(),
        outcome="service_request_opened",
    ):
        ctx.session.rollback()
        state = _fresh(ctx, handoff.id).state  # type: ignore[union-attr]
        raise HandoffNotOpen(f"handoff {handoff_id} is {state}, not waiting", state=state)

    def act() -> s.CreatedServiceRequest:
        fresh = _fresh(ctx, handoff.id)
        assert fresh is not None
        request = create_service_request(
            ctx.session,
            account_id=fresh.account_id,
            opened_by_id=fresh.user_id,
            description=transcript_text(fresh),
            summary=f"Support chat: {fresh.topic or fresh.reason}",
        )
        ctx.session.add(
            m.HandoffMessage(
                handoff_id=fresh.id,
                who="system",
                text=CONVERTED.format(number=request.number),
            )
        )
        _audit(ctx, "handoff_convert", fresh, service_request=request.number)
        return s.CreatedServiceRequest(**views.service_request(request).dict())

    return _commit(ctx, act, status_code=201)


# --- the desk's side ---------------------------------------------------------------------


def _heartbeat(ctx: Ctx, handoff_id: Optional[int] = None) -> None:
    """The agent is here: their held handoffs (or this one) are seen now."""
    query = (
        update(m.Handoff)
        .where(m.Handoff.state == "claimed", m.Handoff.agent_id == ctx.principal.user.id)
        .values(agent_seen_at=m.utcnow())
        .execution_options(synchronize_session=False)
    )
    if handoff_id is not None:
        query = query.where(m.Handoff.id == handoff_id)
    ctx.session.execute(query)
    ctx.session.commit()


def _held(ctx: Ctx, handoff_id: int) -> m.Handoff:
    """A handoff the caller holds now (after sending silent agents' back to the queue)."""
    requeue_away_agents(ctx, handoff_id)
    handoff = _fresh(ctx, handoff_id)
    if handoff is None:
        raise _missing(handoff_id)
    if handoff.state != "claimed" or handoff.agent_id != ctx.principal.user.id:
        raise NotYourHandoff(f"you do not hold handoff {handoff_id}", state=handoff.state)
    return handoff


@router.get("/desk/queue", response_model=s.DeskQueue)
def desk_queue(ctx: Ctx = Depends(desk)) -> s.DeskQueue:
    """The waiting handoffs (oldest first) and the caller's; also the caller's heartbeat."""
    requeue_away_agents(ctx)
    _heartbeat(ctx)
    queue = Queue(ctx)
    waiting = ctx.session.scalars(
        select(m.Handoff)
        .where(m.Handoff.state == "waiting")
        .order_by(m.Handoff.created_at, m.Handoff.id)
    )
    mine = ctx.session.scalars(
        select(m.Handoff)
        .where(m.Handoff.state == "claimed", m.Handoff.agent_id == ctx.principal.user.id)
        .order_by(m.Handoff.claimed_at, m.Handoff.id)
    )
    return s.DeskQueue(
        waiting=[queue.summary(h) for h in waiting], mine=[queue.summary(h) for h in mine]
    )


@router.post("/desk/handoffs/{handoff_id}/claim", response_model=s.HandoffDetail)
def claim_handoff(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(desk_handoff),
) -> JSONResponse:
    """Take a waiting handoff; of concurrent claims exactly one wins, the others are told who."""
    requeue_away_agents(ctx, handoff_id)
    agent = ctx.principal.user
    now = m.utcnow()
    if not _transition(
        ctx,
        handoff_id,
        m.Handoff.state == "waiting",
        state="claimed",
        agent_id=agent.id,
        agent_channel="slack" if ctx.principal.channel == "slack" else "console",
        claimed_at=now,
        agent_seen_at=now,
    ):
        ctx.session.rollback()
        handoff = _fresh(ctx, handoff_id)
        if handoff is None:
            raise _missing(handoff_id)
        if handoff.state == "claimed" and handoff.agent_id == agent.id:
            return JSONResponse(json.loads(Queue(ctx).detail(handoff).json()))  # already theirs
        if handoff.state == "claimed":
            raise AlreadyClaimed(handoff_id, handoff.agent.name)
        raise HandoffNotOpen(f"handoff {handoff_id} is {handoff.state}", state=handoff.state)

    def act() -> s.HandoffDetail:
        ctx.session.add(
            m.HandoffMessage(
                handoff_id=handoff_id,
                who="system",
                author_id=agent.id,
                author=_first_name(agent),
                text=AGENT_JOINED,
            )
        )
        ctx.session.flush()
        handoff = _fresh(ctx, handoff_id)
        assert handoff is not None
        _audit(ctx, "handoff_claim", handoff, channel=handoff.agent_channel)
        return Queue(ctx).detail(handoff)

    return _commit(ctx, act)


@router.get("/desk/handoffs/{handoff_id}", response_model=s.HandoffDetail)
def desk_handoff_detail(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(desk_handoff),
) -> s.HandoffDetail:
    """A handoff the caller holds, with its context and transcript; also a heartbeat."""
    handoff = _held(ctx, handoff_id)
    _heartbeat(ctx, handoff.id)
    return Queue(ctx).detail(_fresh(ctx, handoff.id))  # type: ignore[arg-type]


@router.post(
    "/desk/handoffs/{handoff_id}/messages", response_model=s.HandoffMessageOut, status_code=201
)
def agent_message(
    body: s.HandoffMessageIn,
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(desk_message),
) -> JSONResponse:
    """A message from the agent holding the handoff to the customer."""
    handoff = ctx.locked(_held(ctx, handoff_id))
    if handoff.state != "claimed" or handoff.agent_id != ctx.principal.user.id:
        raise NotYourHandoff(f"you do not hold handoff {handoff_id}", state=handoff.state)
    agent = ctx.principal.user

    def act() -> s.HandoffMessageOut:
        handoff.agent_seen_at = m.utcnow()
        line = m.HandoffMessage(
            handoff_id=handoff.id,
            who="agent",
            author_id=agent.id,
            author=_first_name(agent),
            text=redact(body.text),
        )
        ctx.session.add(line)
        ctx.session.flush()
        return _message_out(line)

    return _commit(ctx, act, status_code=201)


@router.post("/desk/handoffs/{handoff_id}/release", response_model=s.HandoffSummary)
def release_handoff(
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(desk_handoff),
) -> JSONResponse:
    """Put a held handoff back in the queue, at its place (it keeps its age)."""
    handoff = _held(ctx, handoff_id)
    agent_id = ctx.principal.user.id
    if not _transition(
        ctx,
        handoff.id,
        m.Handoff.state == "claimed",
        m.Handoff.agent_id == agent_id,
        state="waiting",
        agent_id=None,
        agent_channel=None,
        claimed_at=None,
        agent_seen_at=None,
    ):
        ctx.session.rollback()
        raise NotYourHandoff(f"you do not hold handoff {handoff_id}")

    def act() -> s.HandoffSummary:
        ctx.session.add(m.HandoffMessage(handoff_id=handoff.id, who="system", text=AGENT_LEFT))
        ctx.session.flush()
        fresh = _fresh(ctx, handoff.id)
        assert fresh is not None
        _audit(ctx, "handoff_release", fresh)
        return Queue(ctx).summary(fresh)

    return _commit(ctx, act)


@router.post("/desk/handoffs/{handoff_id}/close", response_model=s.HandoffDetail)
def close_handoff(
    body: s.HandoffClose,
    handoff_id: s.Id = Path(..., description="the handoff's id"),
    ctx: Ctx = Depends(desk_close),
) -> JSONResponse:
    """End a held handoff with its outcome; the agent's grant to the account ends with it."""
    handoff = _held(ctx, handoff_id)
    if not _transition(
        ctx,
        handoff.id,
        m.Handoff.state == "claimed",
        m.Handoff.agent_id == ctx.principal.user.id,
        state="closed",
        closed_at=m.utcnow(),
        outcome=body.outcome,
        note=redact(body.note) if body.note else None,
    ):
        ctx.session.rollback()
        raise NotYourHandoff(f"you do not hold handoff {handoff_id}")

    def act() -> s.HandoffDetail:
        fresh = _fresh(ctx, handoff.id)
        assert fresh is not None
        _audit(ctx, "handoff_close", fresh, outcome=body.outcome)
        return Queue(ctx).detail(fresh)

    return _commit(ctx, act)
