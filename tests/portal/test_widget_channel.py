"""The widget channel's own rules: a socket's flood budget and the history it shows."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import BotUttered, SlotSet, UserUttered

from bot.channels.widget import BURST, SOCKET_BUDGET, history_of
from bot.ratelimit import RateLimited, RateLimiter


def test_a_socket_may_send_a_burst_then_one_message_every_two_seconds():
    clock = [0.0]
    sockets = RateLimiter(SOCKET_BUDGET, clock=lambda: clock[0])
    for _ in range(BURST):
        sockets.check("sid-1")
    with pytest.raises(RateLimited) as over:
        sockets.check("sid-1")
    assert over.value.retry_after == 2
    sockets.check("sid-2")  # another tab has a budget of its own
    clock[0] += 2.0
    sockets.check("sid-1")


def test_history_shows_user_and_bot_messages_with_clicked_buttons_as_their_titles():
    data = {"type": "list", "kind": "invoices", "title": "Unpaid", "items": []}
    events = [
        UserUttered("reorder my last order"),
        SlotSet("active_account", 3),
        BotUttered(
            "Shall I go ahead?",
            {
                "buttons": [
                    {"title": "Yes, confirm", "payload": "/affirm"},
                    {"title": "No", "payload": "/deny"},
                ]
            },
        ),
        UserUttered("/affirm"),
        BotUttered("Done.", {"custom": data}),
        BotUttered(None, {}),
    ]
    assert history_of(events) == [
        {"from": "user", "text": "reorder my last order"},
        {
            "from": "bot",
            "text": "Shall I go ahead?",
            "buttons": [
                {"title": "Yes, confirm", "payload": "/affirm"},
                {"title": "No", "payload": "/deny"},
            ],
        },
        {"from": "user", "text": "Yes, confirm"},
        {"from": "bot", "text": "Done.", "data": data},
    ]
    assert len(history_of([UserUttered(f"m{i}") for i in range(100)], limit=5)) == 5
