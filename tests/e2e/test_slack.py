"""Slack conversations through the whole stack: what Slack would show each demo person.

The Slack app runs as its own process on the stack (services, action server, Rasa with
the real model); requests are signed with the signing secret as Slack signs them, and
its Web API is the local fake (tests/slack/fake_slack.py), whose record is what Slack
would have been asked to show. Acme's workspace is T0ACME (ana, ben, sara), the vendor's
T0VENDOR (eve).
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.chat.push import RedisPushHub
from bot.services import models as m
from tests.e2e.conftest import REDIS_URL
from tests.slack.fake_slack import Call

ACME, VENDOR = "T0ACME", "T0VENDOR"
ANA, BEN, SARA, EVE = "U0ANA", "U0BEN", "U0SARA", "U0EVE"
GENERAL = "C0GENERAL"


def cart_lines(stack, email: str) -> int:
    with Session(stack.services.engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(m.CartItem)
                .filter_by(user_id=stack.services.user_id(email))
            )
        )


def posted_to(channel: str, thread_ts=None):
    def where(call: Call) -> bool:
        return (
            call.method == "chat.postMessage"
            and call.args.get("channel") == channel
            and call.args.get("thread_ts") == thread_ts
        )

    return where


def ephemeral_to(user: str, channel: str, thread_ts=None):
    def where(call: Call) -> bool:
        return (
            call.method == "chat.postEphemeral"
            and call.args.get("user") == user
            and call.args.get("channel") == channel
            and call.args.get("thread_ts") == thread_ts
        )

    return where


def test_a_direct_message_is_answered_in_the_dm_with_the_invoices_as_blocks(slack):
    mark = slack.fake.mark()
    question = slack.slack.dm(ACME, ANA, "show my unpaid invoices")
    (answer,) = slack.fake.wait(mark, posted_to("D0ANA"))
    assert "Acme Corporation" in answer.text and "INV-" in answer.text
    blocks = answer.args["blocks"]
    assert blocks[0]["type"] == "section"
    items = [b for b in blocks if b.get("fields")]
    assert items and all(b["text"]["text"].startswith("*INV-") for b in items)
    assert answer.token == "xoxb-test-premier-bot-token"
    # A slow answer marks the question while it is on its way, and unmarks it after.
    marks = [c for c in slack.fake.since(mark) if c.method.startswith("reactions.")]
    assert [c.method for c in marks] in ([], ["reactions.add", "reactions.remove"])
    assert all(c.args["timestamp"] == question["ts"] for c in marks)


def test_a_mention_is_answered_in_its_thread_and_a_follow_up_there_keeps_the_context(slack, stack):
    before = cart_lines(stack, "ben.buyer@acme.example")
    mark = slack.fake.mark()
    mention = slack.slack.mention(ACME, BEN, GENERAL, "what can you do?")
    thread = mention["ts"]
    # Help is for anyone: answered in the thread, for the channel to see.
    (help_reply,) = slack.fake.wait(mark, posted_to(GENERAL, thread))
    assert "I can help you with" in help_reply.text
    # A follow-up in the thread, without another mention, continues the same conversation.
    mark = slack.fake.mark()
    slack.slack.thread_reply(ACME, BEN, GENERAL, thread, "reorder my last order")
    asked = slack.fake.wait(mark, lambda c: ephemeral_to(BEN, GENERAL, thread)(c) and c.buttons)
    assert "100000001" in "\n".join(c.text for c in slack.fake.since(mark))
    assert [b["text"]["text"] for b in asked[0].buttons][:2] == ["Yes, confirm", "No"]
    mark = slack.fake.mark()
    slack.slack.thread_reply(ACME, BEN, GENERAL, thread, "yes")
    (done,) = slack.fake.wait(mark, ephemeral_to(BEN, GENERAL, thread))
    assert "I added the items of order 100000001" in done.text
    assert cart_lines(stack, "ben.buyer@acme.example") > before
    # Another thread is another conversation: nothing is waiting for a "yes" there.
    mark = slack.fake.mark()
    other = slack.slack.mention(ACME, BEN, GENERAL, "yes")
    (fresh,) = slack.fake.wait(mark, lambda c: c.args.get("thread_ts") == other["ts"])
    assert "I added" not in fresh.text
    assert not any(
        c.method == "chat.postMessage" and "100000001" in c.text for c in slack.fake.since(mark)
    )


def test_the_slash_command_in_english_and_in_spanish(slack):
    mark = slack.fake.mark()
    url = slack.slack.command(ACME, ANA, GENERAL, "warranty 7XK2M93")
    (warranty,) = slack.fake.wait(mark, lambda c: c.method == "respond" and c.url == url)
    assert warranty.args["response_type"] == "ephemeral"
    assert "7XK2M93" in warranty.text and "warranty" in warranty.text
    mark = slack.fake.mark()
    slack.slack.command(ACME, BEN, GENERAL, "muéstrame las facturas pendientes")
    (facturas,) = slack.fake.wait(mark, lambda c: c.method == "respond")
    assert "facturas" in facturas.text.lower() and "INV-" in facturas.text
    assert "invoices" not in facturas.text
    mark = slack.fake.mark()
    slack.slack.command(ACME, SARA, "D0SARA", "help")
    (help_reply,) = slack.fake.wait(mark, lambda c: c.method == "respond")
    assert "I can help you with" in help_reply.text
    # Nothing a command answers is posted for a whole channel.
    assert not [c for c in slack.fake.since(mark) if c.method == "chat.postMessage"]


def test_a_button_click_confirms_a_reorder_once_and_a_second_click_does_nothing(slack, stack):
    email = "ana.admin@acme.example"
    before = cart_lines(stack, email)
    mark = slack.fake.mark()
    slack.slack.dm(ACME, ANA, "reorder my last order")
    (summary,) = slack.fake.wait(mark, lambda c: posted_to("D0ANA")(c) and bool(c.buttons))
    assert [b["text"]["text"] for b in summary.buttons][:2] == ["Yes, confirm", "No"]
    assert cart_lines(stack, email) == before  # nothing before the click
    mark = slack.fake.mark()
    assert slack.slack.click(ACME, ANA, summary, "Yes, confirm", ephemeral=False).status_code == 200
    (done,) = slack.fake.wait(mark, posted_to("D0ANA"))
    assert "I added the items of order" in done.text
    (replaced,) = [c for c in slack.fake.since(mark) if c.method == "respond"]
    assert replaced.args["replace_original"] in (True, "true")
    assert not any(b["type"] == "actions" for b in replaced.args["blocks"])
    assert ":white_check_mark: *Yes, confirm*" in replaced.text
    after = cart_lines(stack, email)
    assert after > before
    # The same button again (a double click, or an old copy of the message): nothing more.
    mark = slack.fake.mark()
    assert slack.slack.click(ACME, ANA, summary, "Yes, confirm", ephemeral=False).status_code == 200
    assert slack.fake.quiet(mark, 4.0) == []
    assert cart_lines(stack, email) == after


def test_someone_else_cannot_answer_a_question_put_to_ana(slack, stack):
    mark = slack.fake.mark()
    slack.slack.dm(ACME, ANA, "reorder my last order")
    (summary,) = slack.fake.wait(mark, lambda c: posted_to("D0ANA")(c) and bool(c.buttons))
    before = cart_lines(stack, "ana.admin@acme.example")
    mark = slack.fake.mark()
    slack.slack.click(ACME, BEN, summary, "Yes, confirm", ephemeral=False)
    assert slack.fake.quiet(mark, 3.0) == []
    assert cart_lines(stack, "ana.admin@acme.example") == before
    slack.slack.click(ACME, ANA, summary, "No", ephemeral=False)  # leave nothing pending
    slack.fake.wait(mark, posted_to("D0ANA"))


def test_account_data_asked_in_a_shared_channel_is_shown_to_the_asker_alone(slack):
    mark = slack.fake.mark()
    mention = slack.slack.mention(ACME, SARA, GENERAL, "show my recent orders")
    (answer,) = slack.fake.wait(mark, ephemeral_to(SARA, GENERAL, mention["ts"]))
    assert "100000001" in answer.text or "Acme Corporation" in answer.text
    public = [c for c in slack.fake.since(mark) if c.method == "chat.postMessage"]
    assert not any("1000000" in c.text for c in public), public


def test_an_unlinked_person_mentioning_the_app_is_told_alone_how_to_get_linked(slack):
    mark = slack.fake.mark()
    mention = slack.slack.mention(ACME, "U0GUEST", GENERAL, "show the unpaid invoices")
    (answer,) = slack.fake.wait(mark, ephemeral_to("U0GUEST", GENERAL, mention["ts"]))
    assert "link" in answer.text and "U0GUEST" in answer.text
    assert "INV-" not in answer.text
    assert [c.method for c in slack.fake.quiet(mark, 2.0)] == ["chat.postEphemeral"]


def test_a_retried_question_is_answered_once(slack):
    mark = slack.fake.mark()
    event_id = f"Ev{uuid.uuid4().hex[:12].upper()}"  # Redis remembers ids for a day
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0BEN",
        "user": BEN,
        "text": "show my recent orders",
        "ts": slack.slack.ts(),
    }
    slack.slack.event(ACME, event, event_id=event_id)
    retried = slack.slack.event(
        ACME,
        event,
        event_id=event_id,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retried.status_code == 200
    slack.fake.wait(mark, posted_to("D0BEN"))
    answers = [c for c in slack.fake.quiet(mark, 4.0) if posted_to("D0BEN")(c)]
    assert len(answers) == 1


def test_eve_reads_acmes_devices_chooses_globex_and_is_refused_a_write(slack):
    mark = slack.fake.mark()
    slack.slack.dm(VENDOR, EVE, "show devices of Acme")
    (acme,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "Acme Corporation" in acme.text and "7XK2M93" in acme.text
    mark = slack.fake.mark()
    slack.slack.dm(VENDOR, EVE, "switch to Globex")
    (switched,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "Globex México" in switched.text
    mark = slack.fake.mark()
    slack.slack.dm(VENDOR, EVE, "show our devices")
    (globex,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "MX4R8T2" in globex.text and "7XK2M93" not in globex.text
    mark = slack.fake.mark()
    slack.slack.dm(VENDOR, EVE, "reorder my last order")
    (refused,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "role" in refused.text.lower() and not refused.buttons
    slack.slack.dm(VENDOR, EVE, "switch to Acme Corporation")  # leave her where she started
    slack.fake.wait(mark, posted_to("D0EVE"), count=2)


def test_a_message_pushed_into_a_slack_conversation_later_reaches_its_dm(slack, stack):
    mark = slack.fake.mark()
    slack.slack.dm(ACME, ANA, "which account am I in?")
    slack.fake.wait(mark, posted_to("D0ANA"))
    conversation = f"slack:{stack.services.user_id('ana.admin@acme.example')}:D0ANA"

    async def push() -> int:
        async with RedisPushHub(REDIS_URL) as hub:
            for _ in range(50):  # until the Slack app's subscription is confirmed
                reached = await hub.publish(conversation, {"text": "Sam from support: hello"})
                if reached:
                    return reached
                await asyncio.sleep(0.2)
        return 0

    mark = slack.fake.mark()
    assert asyncio.run(push()) == 1
    (pushed,) = slack.fake.wait(mark, posted_to("D0ANA"))
    assert pushed.args["text"] == "Sam from support: hello"
    assert pushed.args["blocks"][0]["text"]["text"] == "Sam from support: hello"


def test_the_bridge_into_the_assistant_takes_only_a_persons_valid_token_and_a_thread(stack):
    url = f"{stack.rasa_url}/webhooks/slack_bridge/webhook"
    message = {"message": "show my unpaid invoices", "thread": "D0ANA"}
    assert httpx.post(url, json=message, timeout=60).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}
    assert httpx.post(url, json=message, headers=forged, timeout=60).status_code == 401
    token = stack.services.token("ana.admin@acme.example", channel="slack")
    stack.tokens_sent.add(token)
    headers = {"Authorization": f"Bearer {token}"}
    bad_thread = dict(message, thread="D0ANA/../../portal")
    assert httpx.post(url, json=bad_thread, headers=headers, timeout=60).status_code == 400
    answer = httpx.post(url, json=message, headers=headers, timeout=60).json()
    user_id = stack.services.user_id("ana.admin@acme.example")
    assert answer["conversation"] == f"slack:{user_id}:D0ANA"
    assert answer["public"] is False and "INV-" in answer["replies"][0]["text"]


def test_eve_picks_globex_on_her_app_home_and_her_dm_follows(slack):
    mark = slack.fake.mark()
    slack.slack.home_opened(VENDOR, EVE)
    (home,) = slack.fake.wait(mark, lambda c: c.method == "views.publish")
    mark = slack.fake.mark()
    assert slack.slack.home_click(VENDOR, EVE, home, "Globex México").status_code == 200
    (switched,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "Globex México" in switched.text
    assert [c.method for c in slack.fake.since(mark)][0] == "conversations.open"
    mark = slack.fake.mark()
    slack.slack.dm(VENDOR, EVE, "show our devices")
    (globex,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "MX4R8T2" in globex.text and "7XK2M93" not in globex.text
    mark = slack.fake.mark()
    slack.slack.home_click(VENDOR, EVE, home, "Acme Corporation")  # back where she started
    (back,) = slack.fake.wait(mark, posted_to("D0EVE"))
    assert "Acme Corporation" in back.text
