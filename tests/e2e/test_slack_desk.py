"""A customer in Slack and an agent in the Slack support channel's thread, on the whole stack.

Ben writes to the app in a DM (Acme's workspace); the assistant opens a handoff; the Slack app
posts it to the vendor's support channel with a Claim button; Sam (the vendor's workspace)
claims it, gets a thread with the conversation, and the two write to each other until Sam
closes from the thread and the assistant is back in Ben's DM. Requests are signed as Slack
signs them; Slack's Web API is the local fake (tests/slack/fake_slack.py).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.e2e.conftest import SUPPORT_CHANNEL
from tests.e2e.test_slack import posted_to

ACME, VENDOR = "T0ACME", "T0VENDOR"
BEN, SAM = "U0BEN", "U0SAM"
BEN_DM = "D0BEN"


def test_a_slack_customer_and_an_agent_in_the_support_thread(slack, stack):
    fake, app = slack.fake, slack.slack
    try:
        mark = fake.mark()
        app.dm(ACME, BEN, "I want to talk to a person")
        (waiting,) = fake.wait(mark, posted_to(BEN_DM))
        assert "connecting you with a person" in waiting.text
        (post,) = fake.wait(mark, lambda c: posted_to(SUPPORT_CHANNEL)(c) and "Ben" in c.text)

        mark = fake.mark()
        app.click(VENDOR, SAM, post, "Claim", ephemeral=False)
        (thread,) = fake.wait(mark, posted_to(SUPPORT_CHANNEL, post.ts))
        assert "I want to talk to a person" in str(thread.args)
        (joined,) = fake.wait(
            mark, lambda c: posted_to(BEN_DM)(c) and "has joined the conversation" in c.text
        )

        # Ben's next message reaches Sam's thread, and the assistant does not answer it.
        mark = fake.mark()
        app.dm(ACME, BEN, "the total of INV-10000003 is wrong")
        (relayed,) = fake.wait(
            mark, lambda c: posted_to(SUPPORT_CHANNEL, post.ts)(c) and "is wrong" in c.text
        )
        # Sam's answer in the thread reaches Ben's DM.
        app.thread_reply(VENDOR, SAM, SUPPORT_CHANNEL, post.ts, "Checking it now, Ben")
        (answer,) = fake.wait(mark, lambda c: posted_to(BEN_DM)(c) and "Checking it now" in c.text)
        assert not [c for c in fake.since(mark) if posted_to(BEN_DM)(c) and "INV-" in c.text]

        mark = fake.mark()
        app.click(VENDOR, SAM, thread, "Close: resolved", ephemeral=False)
        (back,) = fake.wait(
            mark, lambda c: posted_to(BEN_DM)(c) and "has closed the conversation" in c.text
        )
        assert "anything else?" in back.text
        mark = fake.mark()
        app.dm(ACME, BEN, "show my unpaid invoices")
        (invoices,) = fake.wait(mark, posted_to(BEN_DM))
        assert "INV-" in invoices.text
    finally:
        with Session(stack.services.engine) as session, session.begin():
            session.execute(
                update(m.Handoff)
                .where(m.Handoff.state.in_(["waiting", "claimed"]))
                .values(state="closed", outcome="unresolved")
            )
