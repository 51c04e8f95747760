"""The conversation layer through the real stack: the account the person is really in, a named
account, the reply language, what a first message already says, and push to an open connection.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any, Dict, List

import httpx

from tests.conftest import ROOT
from tests.e2e.conftest import REDIS_URL

DIEGO = "diego.admin@globex.example"
EVE = "eve.rep@vendor.example"
ANA = "ana.admin@acme.example"
BEN = "ben.buyer@acme.example"


def test_the_page_account_wins_when_the_page_changes_account(stack):
    globex = stack.services.token(DIEGO, "Globex México")
    acme = stack.services.token(DIEGO, "Acme Corporation")
    stack.texts("cambiar a Acme Corporation", globex)
    # A switch made in the chat holds while the page stays where it was.
    assert "Estás en Acme Corporation" in stack.texts("¿en qué cuenta estoy?", globex)
    # The page moves to Acme, then back to Globex: the chat follows the page each time.
    assert "Estás en Acme Corporation" in stack.texts("¿en qué cuenta estoy?", acme)
    assert "Estás en Globex México" in stack.texts("¿en qué cuenta estoy?", globex)


def test_a_new_session_starts_in_the_page_account_not_an_earlier_switch(stack):
    globex = stack.services.token(DIEGO, "Globex México")
    stack.texts("cambiar a Acme Corporation", globex)
    stack.say("/session_start", globex)  # what a widget sends when it opens a new session
    assert "Estás en Globex México" in stack.texts("¿en qué cuenta estoy?", globex)


def test_an_account_named_in_a_request_is_used_for_that_request(stack):
    eve = stack.services.token(EVE, "Acme Corporation")
    reply = stack.texts("show devices of Globex", eve)
    assert "Globex México" in reply
    assert "MX4R8T2" in reply and "7XK2M93" not in reply
    # Only that request: the next question is about Acme again.
    assert "7XK2M93" in stack.texts("show our devices", eve)


def test_an_account_the_person_has_no_access_to_is_refused_with_the_reason(stack):
    eve = stack.services.token(EVE, "Acme Corporation")
    reply = stack.texts("show devices of Initech", eve)
    assert "access" in reply.lower() and "Initech" in reply
    assert "7XK2M93" not in reply


def test_a_whole_conversation_in_spanish_is_answered_in_spanish(stack):
    diego = stack.services.token(DIEGO, "Globex México")
    switched = stack.texts("cámbiame a Acme", diego)
    assert "Acme Corporation" in switched and "You're" not in switched
    already = stack.texts("cámbiame a Acme", diego)
    assert "Ya estás en Acme Corporation" in already
    contacts = stack.texts("¿cuál es el teléfono de soporte?", diego)
    assert "lunes a viernes" in contacts
    for english in ("Mon", "Fri", "Americas"):
        assert english not in contacts
    stack.texts("cambiar a Globex México", diego)


def test_a_form_takes_what_the_first_message_already_gives(stack):
    ana = stack.services.token(ANA, "Acme Corporation")
    messages = stack.say("open a service request for 3FJ8K21: the screen flickers", ana)
    text = "\n".join(m.get("text", "") for m in messages)
    assert "the screen flickers" in text and "3FJ8K21" in text
    assert "what is wrong" not in text.lower() and "describe" not in text.lower()
    assert any(m.get("buttons") for m in messages)  # the summary waits for yes
    stack.say("no", ana)


def test_structured_replies_carry_the_data_beside_the_text(stack):
    ben = stack.services.token(BEN, "Acme Corporation")
    messages = stack.say("show my unpaid invoices", ben)
    listed = [m for m in messages if m.get("data")]
    assert listed, messages
    data = listed[0]["data"]
    assert data["type"] == "list" and data["kind"] == "invoices"
    assert all(item["id"].startswith("INV-") for item in data["items"])
    assert all(item["id"] in listed[0]["text"] for item in data["items"])


def _events(stack, token: str, received: List[Dict[str, Any]], ready: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream(
        "GET", f"{stack.rasa_url}/webhooks/portal/events", headers=headers, timeout=30
    ) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                if event == "ready":
                    ready.set()
                else:
                    received.append(json.loads(line[len("data: ") :]))
                    return


PUBLISH = """
import asyncio, json, sys
from bot.chat.push import RedisPushHub

async def main():
    async with RedisPushHub(sys.argv[1]) as hub:
        print(await hub.publish(sys.argv[2], json.loads(sys.argv[3]), kind="agent"))

asyncio.run(main())
"""


def _publish(conversation: str, reply: Dict[str, Any]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PUBLISH, REDIS_URL, conversation, json.dumps(reply)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_message_pushed_from_another_process_reaches_the_open_connection(stack):
    ben = stack.services.token(BEN, "Acme Corporation")
    received: List[Dict[str, Any]] = []
    ready = threading.Event()
    listener = threading.Thread(target=_events, args=(stack, ben, received, ready), daemon=True)
    listener.start()
    assert ready.wait(20), "the event stream did not open"
    ana_conversation = f"portal:{stack.services.user_id(ANA)}"
    _publish(ana_conversation, {"text": "for Ana only"})
    ben_conversation = f"portal:{stack.services.user_id(BEN)}"
    assert _publish(ben_conversation, {"text": "Hi Ben, this is Sam from support."}) == "1"
    listener.join(20)
    assert [r["text"] for r in received] == ["Hi Ben, this is Sam from support."]
    assert received[0]["kind"] == "agent" and received[0]["recipient_id"] == ben_conversation


def test_the_event_stream_needs_a_valid_token(stack):
    response = httpx.get(f"{stack.rasa_url}/webhooks/portal/events", timeout=10)
    assert response.status_code == 401
    bad = httpx.get(
        f"{stack.rasa_url}/webhooks/portal/events",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert bad.status_code == 401 and "not valid" in bad.json()["error"]


def test_an_anonymous_visitor_continues_only_the_conversation_the_server_gave_them(stack):
    first = stack.say("hello", None, sender="my-own-choice")
    issued = first[0]["recipient_id"]
    assert issued.startswith("anon:") and issued != "my-own-choice"
    assert stack.say("thanks", None, sender=issued)[0]["recipient_id"] == issued
    ben_conversation = f"portal:{stack.services.user_id(BEN)}"
    assert stack.say("yes", None, sender=ben_conversation)[0]["recipient_id"] != ben_conversation
