"""Requests as Slack sends them, to the real Slack app process and the real account services.

Nothing here needs a conversation with the assistant: Slack's signature, an unlinked person,
a retried event, the App Home. Conversations are in tests/e2e/test_slack.py.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.services import models as m
from tests.slack.fake_slack import sign
from tests.slack.harness import running_slack_app

pytestmark = pytest.mark.parametrize("services", ["sqlite"], indirect=True)
ACME, VENDOR = "T0ACME", "T0VENDOR"
STRANGER = "U0NOBODY"


def _dm_event(slack, user: str, text: str) -> dict:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D" + user[1:],
        "user": user,
        "text": text,
        "ts": slack.ts(),
    }


def _envelope(event: dict, event_id: str = "Ev0SIGNING01") -> str:
    return json.dumps(
        {"type": "event_callback", "team_id": ACME, "event": event, "event_id": event_id}
    )


def test_an_unsigned_request_is_refused_and_nothing_happens(slack_app):
    mark = slack_app.fake.mark()
    body = _envelope(_dm_event(slack_app.slack, STRANGER, "hello"))
    response = slack_app.slack.post(body, "application/json", signed=False)
    assert response.status_code == 401
    assert slack_app.fake.quiet(mark, 1.0) == []


def test_a_forged_signature_is_refused(slack_app):
    mark = slack_app.fake.mark()
    body = _envelope(_dm_event(slack_app.slack, STRANGER, "hello"))
    forged = sign("not-the-signing-secret", body)
    response = slack_app.slack.post(body, "application/json", signed=False, headers=forged)
    assert response.status_code == 401
    # The right signature over another body is forged too: the body was changed on the way.
    genuine = sign(slack_app.slack.secret, body)
    other = body.replace("hello", "pay every invoice")
    response = slack_app.slack.post(other, "application/json", signed=False, headers=genuine)
    assert response.status_code == 401
    assert slack_app.fake.quiet(mark, 1.0) == []


def test_a_stale_request_is_refused_even_when_signed_with_the_secret(slack_app):
    mark = slack_app.fake.mark()
    body = _envelope(_dm_event(slack_app.slack, STRANGER, "hello"))
    six_minutes_ago = int(time.time()) - 6 * 60
    response = slack_app.slack.post(body, "application/json", timestamp=six_minutes_ago)
    assert response.status_code == 401
    assert slack_app.fake.quiet(mark, 1.0) == []
    # Within five minutes the same request is genuine (Slack's own tolerance).
    four_minutes_ago = int(time.time()) - 4 * 60
    response = slack_app.slack.post(body, "application/json", timestamp=four_minutes_ago)
    assert response.status_code == 200
    slack_app.fake.wait(mark, lambda c: c.method == "chat.postMessage")  # and it is answered


def test_an_unlinked_person_is_told_how_to_get_linked_and_nothing_else(slack_app, audit_rows):
    mark = slack_app.fake.mark()
    slack_app.slack.dm(ACME, "U0UNLINKED", "show my unpaid invoices")
    (answer,) = slack_app.fake.wait(mark, lambda c: c.method == "chat.postMessage")
    assert answer.args["channel"] == "D0UNLINKED"
    assert "link" in answer.text and "T0ACME" in answer.text and "U0UNLINKED" in answer.text
    assert "INV-" not in answer.text
    assert answer.token == "xoxb-test-premier-bot-token"  # the bot token, not a person's
    assert [c.method for c in slack_app.fake.quiet(mark, 1.0)] == ["chat.postMessage"]
    (row,) = audit_rows(expect=1, action="slack_link", target="T0ACME/U0UNLINKED")
    assert row.outcome == "not_found" and row.channel == "slack" and row.user_id is None


def test_an_unlinked_person_writing_in_spanish_is_answered_in_spanish(slack_app):
    mark = slack_app.fake.mark()
    slack_app.slack.dm(ACME, "U0EXTRANJO", "muéstrame las facturas pendientes")
    (answer,) = slack_app.fake.wait(mark, lambda c: c.method == "chat.postMessage")
    assert "vincule" in answer.text


def test_a_retried_event_is_acted_on_once(slack_app):
    mark = slack_app.fake.mark()
    event = _dm_event(slack_app.slack, STRANGER, "hello again")
    event_id = f"Ev{uuid.uuid4().hex[:12].upper()}"
    first = slack_app.slack.event(ACME, event, event_id=event_id)
    retry = slack_app.slack.event(
        ACME,
        event,
        event_id=event_id,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert first.status_code == retry.status_code == 200
    slack_app.fake.wait(mark, lambda c: c.method == "chat.postMessage")
    assert len(slack_app.fake.quiet(mark, 1.5)) == 1


def test_every_request_is_acknowledged_within_slacks_three_seconds(slack_app):
    mark = slack_app.fake.mark()
    body = _envelope(_dm_event(slack_app.slack, STRANGER, "hi"), "Ev0QUICK0001")
    started = time.monotonic()
    assert slack_app.slack.post(body, "application/json").status_code == 200
    assert time.monotonic() - started < 3.0
    slack_app.fake.wait(mark, lambda c: c.method == "chat.postMessage")  # the answer follows


def test_the_app_home_of_an_unlinked_person_says_how_to_get_linked(slack_app):
    mark = slack_app.fake.mark()
    slack_app.slack.home_opened(VENDOR, STRANGER)
    (publish,) = slack_app.fake.wait(mark, lambda c: c.method == "views.publish")
    assert publish.args["user_id"] == STRANGER
    assert publish.args["view"]["type"] == "home"
    assert "link" in publish.text and "T0VENDOR" in publish.text


def _home(slack_app, team: str, user: str):
    mark = slack_app.fake.mark()
    slack_app.slack.home_opened(team, user)
    (publish,) = slack_app.fake.wait(mark, lambda c: c.method == "views.publish")
    assert publish.args["user_id"] == user and publish.args["view"]["type"] == "home"
    return publish


def test_the_app_home_shows_ana_her_account_role_and_what_she_can_ask(slack_app):
    home_view = _home(slack_app, ACME, "U0ANA")
    home = home_view.text
    assert "Ana" in home and "site admin" in home and "Acme Corporation" in home
    assert "the United States" in home
    for example in ("reorder my last order", "/premier warranty 7XK2M93", "/premier invoices"):
        assert example in home
    assert "changes are made by the customer" not in home  # she is no read-only reader
    assert not [b for b in home_view.args["view"]["blocks"] if b["type"] == "actions"]


def test_the_app_home_shows_eve_her_accounts_read_only(slack_app):
    home_view = _home(slack_app, VENDOR, "U0EVE")
    home = home_view.text
    assert "Eve" in home and "account team (read-only)" in home
    assert "Acme Corporation" in home and "Globex México" in home
    assert "switch to Globex México" in home
    assert "changes are made by the customer" in home
    assert "reorder" not in home and "pay invoice" not in home
    assert "show our devices" in home
    (picker,) = [b for b in home_view.args["view"]["blocks"] if b["type"] == "actions"]
    assert [e["value"] for e in picker["elements"]] == ["Acme Corporation", "Globex México"]


def test_a_linked_persons_app_home_is_in_their_language(services, tmp_path):
    sara = services.user_id("sara.shopper@acme.example")
    with Session(services.engine) as session, session.begin():
        session.execute(update(m.User).where(m.User.id == sara).values(language="es"))
    try:
        with running_slack_app(services, tmp_path / "slack.log") as app:
            home = _home(app, ACME, "U0SARA").text
    finally:
        with Session(services.engine) as session, session.begin():
            session.execute(update(m.User).where(m.User.id == sara).values(language="en"))
    assert "Asistente de cuentas Premier" in home and "Qué puedes preguntar" in home
    assert "Acme Corporation" in home and "Estados Unidos" in home


def test_the_app_home_of_a_support_agent_offers_only_what_he_may_ask(slack_app):
    home_view = _home(slack_app, VENDOR, "U0SAM")
    home = home_view.text
    assert "Sam" in home and "what's the support phone number?" in home
    assert "changes are made by the customer" not in home  # he reads no account
    assert "show our devices" not in home and "Accounts you can ask about" not in home
