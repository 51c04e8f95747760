"""Which conversation a Slack message continues: a thread is its own (the layer's rule)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.chat.conversations import conversation_id
from bot.chat.identity import ChatIdentity
from bot.slack.conversation import Place, event_place
from bot.slack.texts import Texts

ANA = ChatIdentity(7, 1, "slack", "en", dt.datetime.now(dt.timezone.utc), "token")


def test_a_direct_message_is_the_dms_conversation_and_a_thread_in_it_its_own():
    top = event_place(
        "T0ACME", {"user": "U0ANA", "channel": "D0ANA", "channel_type": "im", "ts": "1.1"}
    )
    assert top == Place("T0ACME", "U0ANA", "D0ANA", "im", None, "1.1")
    threaded = event_place(
        "T0ACME",
        {
            "user": "U0ANA",
            "channel": "D0ANA",
            "channel_type": "im",
            "ts": "1.5",
            "thread_ts": "1.1",
        },
    )
    assert threaded is not None and top is not None
    assert conversation_id(ANA, top.thread) == "slack:7:D0ANA"
    assert conversation_id(ANA, threaded.thread) == "slack:7:D0ANA-1.1"


def test_a_mention_starts_a_thread_and_its_replies_continue_that_conversation():
    mention = event_place("T0ACME", {"user": "U0ANA", "channel": "C0GENERAL", "ts": "17.000100"})
    reply = event_place(
        "T0ACME",
        {"user": "U0ANA", "channel": "C0GENERAL", "ts": "17.000300", "thread_ts": "17.000100"},
    )
    assert mention is not None and reply is not None
    assert mention.kind == reply.kind == "channel"
    assert mention.thread == reply.thread == "C0GENERAL-17.000100"
    assert mention.thread_ts == "17.000100"  # answers go into that thread
    other = event_place("T0ACME", {"user": "U0ANA", "channel": "C0GENERAL", "ts": "18.000100"})
    assert other is not None and other.thread != mention.thread


def test_a_slash_command_continues_the_conversation_of_its_channel():
    place = Place("T0ACME", "U0BEN", "C0GENERAL", "command")
    assert conversation_id(ANA, place.thread) == "slack:7:C0GENERAL"


@pytest.mark.parametrize(
    "event",
    [{}, {"user": "U0ANA"}, {"user": "U0ANA", "channel": "D0ANA"}, {"channel": "D0", "ts": "1"}],
)
def test_an_event_without_a_person_a_place_and_a_time_is_not_a_question(event):
    assert event_place("T0ACME", event) is None


def test_every_text_of_the_app_has_english_and_spanish_and_fills_its_placeholders():
    texts = Texts.load()
    values = dict(
        team="T0ACME",
        user="U0X",
        count=3,
        name="Ana",
        role="r",
        account="A",
        type="Premier",
        country="US",
        accounts="A, B",
        example="B",
    )
    for key in (
        "not_linked",
        "unavailable",
        "more_items",
        "home_title",
        "home_who",
        "home_no_account",
        "home_accounts",
        "home_read_only",
        "home_ask",
        "home_private",
    ):
        english, spanish = texts.say(key, "en", **values), texts.say(key, "es", **values)
        assert english and spanish and english != spanish or key in {"home_no_account"}
    assert texts.say("unavailable", "fr") == texts.say("unavailable", "en")
    for capability in texts.example_capabilities:
        assert texts.example(capability, "es") != texts.example(capability, "en")


def test_a_text_missing_a_language_stops_the_start():
    with pytest.raises(ValueError, match="no es variation"):
        Texts({"not_linked": {"en": "hello"}})
