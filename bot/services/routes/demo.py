"""Demo sign-in: the demo portal's stand-in for a real identity provider (never in production).

The account services are the only issuer of identity tokens, so the demo portal
signs a person in here rather than minting a token itself: it names a demo
person and gets the same short-lived token a real sign-in would give (a new
session, in the person's first account). In production mode both endpoints
answer 404, as if they did not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import List

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import tokens
from bot.services import models as m
from bot.services import schemas as s
from bot.services.context import get_session
from bot.services.errors import NotFound
from bot.services.seed import PEOPLE
from bot.settings import Settings

router = APIRouter(prefix="/demo", tags=["demo"])
DEMO_EMAILS = [person[0] for person in PEOPLE]


class DemoPerson(s.Out):
    email: str
    name: str
    language: str
    staff_role: str | None
    accounts: List[s.AccountRef]


class DemoSignInIn(s.Strict):
    email: s.line(min_length=3, max_length=254)  # type: ignore[valid-type]


class DemoSignInOut(BaseModel):
    token: str
    expires_at: dt.datetime


def _demo_only(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if settings.production:
        raise NotFound("demo sign-in is not available in production", what="endpoint")
    return settings


def _memberships(session: Session, user_id: int) -> List[m.Membership]:
    query = (
        select(m.Membership).filter_by(user_id=user_id, status="active").order_by(m.Membership.id)
    )
    return list(session.scalars(query))


@router.get("/people", response_model=List[DemoPerson])
def people(
    session: Session = Depends(get_session), _: Settings = Depends(_demo_only)
) -> List[DemoPerson]:
    """The demo world's people, in the order the design lists them, with their accounts."""
    users = {
        u.email: u for u in session.scalars(select(m.User).where(m.User.email.in_(DEMO_EMAILS)))
    }
    return [
        DemoPerson(
            email=user.email,
            name=user.name,
            language=user.language,
            staff_role=user.staff_role,
            accounts=[
                s.AccountRef(id=ms.account.id, name=ms.account.name, role=ms.role)
                for ms in _memberships(session, user.id)
            ],
        )
        for email in DEMO_EMAILS
        if (user := users.get(email)) is not None and user.status == "active"
    ]


@router.post("/sign-in", response_model=DemoSignInOut)
def sign_in(
    body: DemoSignInIn,
    session: Session = Depends(get_session),
    settings: Settings = Depends(_demo_only),
) -> DemoSignInOut:
    """A new session's token for a demo person, in their first account (the portal's default)."""
    email = body.email.lower()
    user = session.scalar(select(m.User).filter_by(email=email, status="active"))
    if user is None or email not in DEMO_EMAILS:
        raise NotFound(f"{email} is not a demo person", what="person")
    memberships = _memberships(session, user.id)
    token = tokens.mint_token(
        settings.token_signing_key(),
        user_id=user.id,
        account_id=memberships[0].account_id if memberships else None,
        channel="portal",
        language=user.language,
        ttl=dt.timedelta(minutes=settings.token_ttl_minutes),
        max_session=settings.session_max,
    )
    claims = tokens.verify_token(
        settings.token_verification_key(), token, max_session=settings.session_max
    )
    return DemoSignInOut(token=token, expires_at=claims.expires_at)
