"""The conversation rule: derived from the verified identity; nobody can enter another's."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.chat.conversations import AnonymousConversations, conversation_id, is_anonymous
from bot.chat.identity import ChatIdentity

SECRET = "chat-secret-" + "s" * 32


def person(user_id: int, channel: str = "portal", account_id: int = 1) -> ChatIdentity:
    return ChatIdentity(
        user_id=user_id,
        account_id=account_id,
        channel=channel,
        language="en",
        expires_at=dt.datetime.now(dt.timezone.utc),
        credential="unused",
    )


def test_one_conversation_per_person_and_channel_whatever_the_account():
    assert conversation_id(person(7)) == "portal:7"
    assert conversation_id(person(7, account_id=2)) == "portal:7"
    assert conversation_id(person(7, channel="slack")) == "slack:7"
    assert conversation_id(person(8)) != conversation_id(person(7))


def test_a_slack_thread_is_its_own_conversation_but_still_the_persons():
    thread = conversation_id(person(7, channel="slack"), thread="1701.0042")
    assert thread == "slack:7:1701.0042"
    assert conversation_id(person(8, channel="slack"), thread="1701.0042") != thread


@pytest.mark.parametrize("thread", ["", "a b", "x" * 65, "../../etc", "7:8"])
def test_a_thread_id_of_the_wrong_shape_is_refused(thread):
    with pytest.raises(ValueError):
        conversation_id(person(7, channel="slack"), thread=thread)


def test_anonymous_ids_are_issued_by_the_server_and_can_be_continued():
    anonymous = AnonymousConversations(SECRET)
    issued = anonymous.issue()
    assert is_anonymous(issued) and issued != anonymous.issue()
    assert anonymous.continue_or_issue(issued) == issued


@pytest.mark.parametrize(
    "offered", [None, "", "visitor-1", "portal:7", "anon:" + "0" * 32 + ".deadbeef", "anon:x.y"]
)
def test_a_client_chosen_id_never_becomes_its_conversation(offered):
    anonymous = AnonymousConversations(SECRET)
    got = anonymous.continue_or_issue(offered)
    assert got != offered and is_anonymous(got)


def test_an_id_issued_under_another_secret_is_not_continued():
    other = AnonymousConversations("another-" + "k" * 32).issue()
    assert AnonymousConversations(SECRET).continue_or_issue(other) != other
