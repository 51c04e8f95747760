"""The Slack link exchange: (team, Slack user) -> that person's short-lived token.

Only the Slack app calls this, with its own credential (`SLACK_SERVICE_SECRET`,
held by it and by the services alone). The services keep the links and the
private key, so the Slack app can learn who wrote but can never mint a token:
it asks here, every hour or so per person. Every exchange is audited, an
unknown link too (with no person to name, only the Slack ids).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Optional

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, constr
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tokens
from bot.services import audit
from bot.services import models as m
from bot.services.context import Principal, get_session
from bot.services.errors import NotFound, Unauthorized
from bot.services.schemas import Strict
from bot.settings import Settings

router = APIRouter()
# Slack's team and user ids: an upper-case letter, then upper-case letters and digits.
SlackId = constr(strict=True, regex=r"^[A-Z][A-Z0-9]{1,19}$")


class SlackTokenIn(Strict):
    team_id: SlackId  # type: ignore[valid-type]
    user_id: SlackId  # type: ignore[valid-type]


class SlackTokenOut(BaseModel):
    """The person's token (channel "slack") and what the Slack app shows before it asks more."""

    token: str
    expires_at: dt.datetime
    user_id: int
    language: str


def _slack_app(request: Request) -> None:
    """Admit only the Slack app: `Authorization: Bearer <SLACK_SERVICE_SECRET>`.

    Raises:
        Unauthorized: no secret configured here, or a different one presented.
    """
    expected: Optional[str] = request.app.state.settings.slack_service_secret
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if (
        not expected
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.strip().encode(), expected.encode())
    ):
        raise Unauthorized("only the Slack app may exchange a Slack link")


@router.post(
    "/slack/token",
    response_model=SlackTokenOut,
    tags=["slack"],
    dependencies=[Depends(_slack_app)],
)
def exchange(
    body: SlackTokenIn, request: Request, session: Session = Depends(get_session)
) -> SlackTokenOut:
    """A fresh sign-in (channel "slack") for the person linked to this Slack user.

    The token is in the person's first active account, as a portal sign-in is;
    the chat switches account per conversation, as on the web.
    """
    settings: Settings = request.app.state.settings
    where = f"{body.team_id}/{body.user_id}"
    user = session.scalar(
        select(m.User)
        .join(m.SlackLink, m.SlackLink.user_id == m.User.id)
        .where(m.SlackLink.team_id == body.team_id, m.SlackLink.slack_user_id == body.user_id)
    )
    if user is None or user.status != "active":
        session.add(
            m.AuditEvent(
                at=m.utcnow(),
                user_id=user.id if user else None,
                email=user.email if user else None,
                channel="slack",
                action="slack_link",
                target=where,
                outcome="not_found",
                detail={},
            )
        )
        session.commit()
        raise NotFound(f"Slack user {where} is not linked", what="slack_link", id=where)
    membership = session.scalar(
        select(m.Membership).filter_by(user_id=user.id, status="active").order_by(m.Membership.id)
    )
    token = tokens.mint_token(
        settings.token_signing_key(),
        user_id=user.id,
        account_id=membership.account_id if membership else None,
        channel="slack",
        language=user.language,
        ttl=dt.timedelta(minutes=settings.token_ttl_minutes),
        max_session=settings.session_max,
    )
    identity = tokens.verify_token(
        settings.token_verification_key(), token, max_session=settings.session_max
    )
    principal = Principal(
        user=user,
        account=membership.account if membership else None,
        membership=membership,
        channel="slack",
        token=identity,
    )
    audit.add(session, principal, action="slack_link", outcome="ok", target=where)
    session.commit()
    return SlackTokenOut(
        token=token, expires_at=identity.expires_at, user_id=user.id, language=user.language
    )
