"""The tracker store never writes a token or a card number, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import stat

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, text

from bot.chat.metadata import ChatMetadata
from bot.chat.tracker_store import PrivateSQLTrackerStore

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI3In0.c2VjcmV0LXNpZ25hdHVyZQ"
CARD = "4111 1111 1111 1111"


def a_turn(domain: Domain) -> DialogueStateTracker:
    metadata = ChatMetadata(
        channel="portal", conversation="portal:7", user_id=7, account_id=1, credential=TOKEN
    ).to_message()
    tracker = DialogueStateTracker("portal:7", domain.slots)
    tracker.update(SlotSet("session_started_metadata", metadata), domain)
    tracker.update(SessionStarted(), domain)
    tracker.update(ActionExecuted("action_listen"), domain)
    tracker.update(
        UserUttered(
            f"pay INV-10000003 with {CARD}",
            {"name": "pay_invoice", "confidence": 0.9},
            metadata=metadata,
        ),
        domain,
    )
    tracker.update(BotUttered("Paying with •••• 1111"), domain)
    return tracker


def stored_rows(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT data FROM events")).scalars().all()
    engine.dispose()
    # Decoded, so that a token written with JSON escapes would still be found.
    return "\n".join(json.dumps(json.loads(row), ensure_ascii=False) for row in rows)


async def test_the_actions_see_the_token_but_the_store_never_writes_it(domain, store_url):
    store = PrivateSQLTrackerStore(domain=domain, url=store_url)
    tracker = a_turn(domain)
    assert tracker.latest_message.metadata["credential"] == TOKEN  # what the turn's actions get
    await store.save(tracker)
    written = stored_rows(store_url)
    assert TOKEN not in written and "credential" not in written
    assert "4111 1111" not in written and "•••• 1111" in written
    assert '"conversation": "portal:7"' in written  # the rest of the metadata is kept
    again = await store.retrieve("portal:7")
    assert again is not None and again.latest_message.metadata.get("account_id") == 1


async def test_a_sqlite_tracker_file_is_readable_by_its_owner_only(domain, tmp_path):
    path = tmp_path / "private" / "tracker.db"
    PrivateSQLTrackerStore(domain=domain, url=f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
