"""People for load: buyers of Acme, one conversation each (load tests and bench.performance)."""

from __future__ import annotations

from typing import Any, List

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import models as m


def load_email(number: int) -> str:
    return f"load.{number:03d}@acme.example"


def seed_load_people(engine: Any, count: int) -> List[str]:
    """`count` buyers of Acme, each with a conversation of their own; returns their emails.

    Idempotent: people seeded by an earlier call are kept and only the missing ones are
    added, so a second call asking for more extends the first.
    """
    emails = [load_email(n) for n in range(count)]
    with Session(engine) as session, session.begin():
        acme = session.scalar(select(m.Account).filter_by(name="Acme Corporation"))
        existing = set(session.scalars(select(m.User.email).where(m.User.email.like("load.%"))))
        for email in emails:
            if email in existing:
                continue
            user = m.User(email=email, name=email.split("@")[0], language="en")
            session.add(user)
            session.flush()
            session.add(m.Membership(user_id=user.id, account_id=acme.id, role="buyer"))
    return emails
