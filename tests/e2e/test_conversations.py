"""Conversations through the portal endpoint with the trained model, as each demo person."""

from __future__ import annotations

import datetime as dt
import time

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
    forged = tokens.mint_token(tokens.generate_key_pair()[0], user_id=1, account_id=1)
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


# --- the conversations the product must get right, per demo person -------------------------


def test_shopper_asking_to_renew_is_told_why_not(stack):
    token = stack.services.token("sara.shopper@acme.example")
    reply = stack.texts("renew the service contract for 3FJ8K21", token, sender="sara-renew")
    assert "role" in reply.lower() and "shopper" in reply and "Ana Álvarez" in reply
    assert "For how long" not in reply  # the form never started


def test_globex_admin_asking_in_spanish_for_subscriptions_hears_mexico_in_spanish(stack):
    token = stack.services.token("diego.admin@globex.example", "Globex México")
    reply = stack.texts("¿qué suscripciones de software tenemos?", token)
    assert "no está disponible en México" in reply


def test_initech_buyer_asking_for_unpaid_invoices_hears_about_the_billing_report(stack):
    token = stack.services.token("lena.buyer@initech.example")
    reply = stack.texts("show me our unpaid invoices", token)
    assert "billing report" in reply.lower()
    assert "INV-3" not in reply


def test_acme_buyer_pays_an_invoice_once_even_when_yes_is_sent_twice(stack):
    email = "ben.buyer@acme.example"
    token = stack.services.token(email)
    summary = stack.texts("I want to pay invoice INV-10000003", token, sender="ben-pay")
    assert "INV-10000003" in summary and "4242" in summary
    with Session(stack.services.engine) as session:
        assert session.scalar(select(m.Invoice.paid_at).filter_by(number="INV-10000003")) is None
    assert "paid" in stack.texts("yes", token, sender="ben-pay").lower()
    stack.texts("yes", token, sender="ben-pay")
    with Session(stack.services.engine) as session:
        invoice = session.scalar(select(m.Invoice).filter_by(number="INV-10000003"))
        assert invoice.paid_at is not None
        payments = session.scalar(
            select(func.count()).select_from(m.Payment).filter_by(invoice_id=invoice.id)
        )
    assert payments == 1


def test_service_tag_of_another_account_is_not_found_and_audited(stack):
    token = stack.services.token("lena.buyer@initech.example")
    with Session(stack.services.engine) as session:
        before = session.scalar(
            select(func.count())
            .select_from(m.AuditEvent)
            .where(m.AuditEvent.action.like("probe:%"))
        )
    reply = stack.texts("warranty for service tag 7xk2m93", token, sender="lena-tag")
    assert "can't find" in reply.lower() and "Latitude" not in reply
    deadline = time.monotonic() + 15  # the probe's audit row is written just after the answer
    while True:
        with Session(stack.services.engine) as session:
            after = session.scalar(
                select(func.count())
                .select_from(m.AuditEvent)
                .where(m.AuditEvent.action.like("probe:%"))
            )
        if after >= before + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert after == before + 1


def test_a_form_interrupted_by_a_question_answers_it_and_resumes(stack):
    token = stack.services.token("ben.buyer@acme.example")
    sender = "ben-form"
    assert "For how long" in stack.texts("renew the contract for 9QW4T72", token, sender)
    side = stack.texts("wait, what's my role?", token, sender)
    assert "buyer" in side and "For how long" in side  # answered, then asked again
    assert "plan" in stack.texts("2 years", token, sender).lower()
    quote = stack.texts("ProSupport Plus", token, sender)
    assert "9QW4T72" in quote and "Total" in quote
    stack.texts("no", token, sender)  # decline: nothing renewed


def test_cancel_inside_a_form_leaves_it_cleanly(stack):
    token = stack.services.token("ben.buyer@acme.example")
    sender = "ben-cancel"
    assert "For how long" in stack.texts("renew the contract for 3FJ8K21", token, sender)
    assert "didn't change anything" in stack.texts("cancel", token, sender)
    # The form is gone: a new question is answered as such, not as a duration.
    assert "Orders for Acme Corporation" in stack.texts("show my recent orders", token, sender)
