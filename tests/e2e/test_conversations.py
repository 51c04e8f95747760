"""Conversations through the portal endpoint with the trained model, as each demo person."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import tokens
from bot.services import models as m


def cart_rows(stack, email):
    with Session(stack.services.engine) as session:
        return session.scalar(
            select(func.count())
            .select_from(m.CartItem)
            .filter_by(user_id=stack.services.user_id(email))
        )


def test_anonymous_person_gets_public_help_and_is_asked_to_sign_in(stack):
    assert "sign in" in stack.texts("what can you do?", sender="visitor-1").lower()
    reply = stack.texts("show my recent orders", sender="visitor-1")
    assert "sign in" in reply.lower()
    assert "1000000" not in reply


def test_anonymous_person_gets_regional_support_contacts(stack):
    reply = stack.texts("what is the premier support phone number for EMEA?", sender="v-2")
    assert "+44 20 7946 0321" in reply


def test_expired_token_gets_only_a_sign_in_again_reply(stack):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)
    token = stack.services.token("ben.buyer@acme.example", now=past, ttl=dt.timedelta(minutes=5))
    messages = stack.say("show my recent orders", token)
    assert len(messages) == 1
    assert "sign in" in messages[0]["text"].lower()


def test_forged_token_is_refused(stack):
    forged = tokens.mint_token("not-the-secret-" * 3, user_id=1, account_id=1)
    response = httpx.post(
        f"{stack.rasa_url}/webhooks/portal/webhook",
        headers={"Authorization": f"Bearer {forged}"},
        json={"sender": "x", "message": "hi"},
        timeout=60,
    )
    assert response.status_code == 401


def test_reorder_is_confirmed_once_even_when_yes_is_sent_twice(stack):
    email = "ben.buyer@acme.example"
    token = stack.services.token(email)
    before = cart_rows(stack, email)
    summary = stack.say("reorder my last order", token)
    assert any("100000001" in m.get("text", "") for m in summary)
    assert any(m.get("buttons") for m in summary)
    assert cart_rows(stack, email) == before  # nothing changes before the yes
    assert "added" in stack.texts("yes", token).lower()
    assert "already done" in stack.texts("yes", token).lower()
    assert cart_rows(stack, email) - before == 3


def test_the_sender_id_cannot_reach_another_persons_conversation(stack):
    email = "sara.shopper@acme.example"
    token = stack.services.token(email)
    before = cart_rows(stack, email)
    stack.say("reorder my last order", token, sender="sara-tab-1")
    user_id = stack.services.user_id(email)
    # An anonymous caller naming Sara's conversation id confirms nothing of hers.
    stack.say("yes", None, sender=f"user-{user_id}")
    assert cart_rows(stack, email) == before
    # Sara herself, from another tab (another sender id), is the same conversation.
    assert "added" in stack.texts("yes", token, sender="sara-tab-2").lower()
    assert cart_rows(stack, email) > before


def test_spanish_speaker_gets_spanish_replies(stack):
    token = stack.services.token("diego.admin@globex.example", "Globex México")
    reply = stack.texts("muéstrame mis pedidos recientes", token)
    assert "Pedidos de Globex México" in reply


def test_switching_account_shows_the_other_accounts_orders(stack):
    token = stack.services.token("diego.admin@globex.example", "Globex México")
    assert "Acme Corporation" in stack.texts("switch to Acme Corporation", token)
    reply = stack.texts("show me my recent orders", token)
    assert "100000001" in reply and "200000001" not in reply
    stack.texts("cambiar a Globex México", token)  # leave Diego where he started


def test_account_team_is_told_why_it_cannot_reorder(stack):
    token = stack.services.token("eve.rep@vendor.example", "Acme Corporation")
    reply = stack.texts("reorder my last order", token)
    assert "role" in reply.lower() and "Ana Álvarez" in reply


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 10_000,
        "🙂🙂🙂",
        "hola 你好 привет invoices",
        "'); DROP TABLE orders; --",
        "<script>alert(1)</script> show my orders",
        "order status 12345",
        "warranty for service tag !!!",
    ],
)
def test_bad_input_gets_a_sensible_answer_and_writes_nothing(stack, text):
    email = "ana.admin@acme.example"
    before = cart_rows(stack, email)
    messages = stack.say(text, stack.services.token(email), sender="bad-input")
    assert isinstance(messages, list)
    assert all("Traceback" not in m.get("text", "") for m in messages)
    assert cart_rows(stack, email) == before
    with Session(stack.services.engine) as session:
        assert session.scalar(select(func.count()).select_from(m.Order)) >= 10
