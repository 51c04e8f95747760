"""No token, key, secret or card number is ever written to the tracker store or a log.

Runs after the other conversation tests (pytest orders files by name) and looks
for every token the suite sent, the keys and secrets of the stack, and a card
number typed into the chat, in the tracker database and in every process's log.
"""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import TEST_CHAT_SECRET, TEST_DOWNLOAD_SECRET, TEST_SIGNING_KEY

CARD = "4111 1111 1111 1111"


def _stored_and_logged(stack) -> str:
    with sqlite3.connect(stack.workdir / "tracker.db") as connection:
        # Decoded, so that a secret written with JSON escapes would still be found.
        rows = [
            json.dumps(json.loads(row[0]), ensure_ascii=False)
            for row in connection.execute("SELECT data FROM events")
        ]
    logs = [path.read_text(errors="replace") for path in stack.workdir.glob("*.log")]
    return "\n".join(rows + logs)


def test_nothing_secret_is_stored_or_logged(stack):
    ana = stack.services.token("ana.admin@acme.example", "Acme Corporation")
    stack.say("hello", ana)
    stack.say(f"pay invoice INV-10000003 with my card {CARD}", ana)
    stack.say("no", ana)
    stack.say("/session_start", ana)
    stack.say("switch to Acme", stack.services.token("diego.admin@globex.example"))
    everything = _stored_and_logged(stack)
    assert stack.tokens_sent, "the conversation tests sent no token"
    for token in stack.tokens_sent:
        assert token not in everything
        assert token.split(".")[2] not in everything  # not even the signature alone
    assert '"credential"' not in everything
    for secret in (TEST_CHAT_SECRET, TEST_DOWNLOAD_SECRET, stack.settings.rasa_api_token):
        assert secret not in everything
    private_key_body = "".join(TEST_SIGNING_KEY.splitlines()[1:-1])
    assert private_key_body not in everything
    assert CARD not in everything and "4111111111111111" not in everything
    assert "•••• 1111" in everything  # the message was stored, masked
