"""Another Rasa process's view of a conversation store, for tests/chat/test_live_trackers.py.

    python -m tests.chat.tracker_peer URL CONVERSATION [EVENTS_JSON]

Opens its own `PrivateSQLTrackerStore` (its own kept trackers) on `URL`, reads the
conversation, appends the events given as a JSON list of event dicts and saves when there
are any, then prints the conversation's events as the store reads them back, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import List

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event

from bot.chat.tracker_store import PrivateSQLTrackerStore
from bot.settings import PROJECT_ROOT


async def main(argv: List[str]) -> None:
    url, conversation = argv[0], argv[1]
    appended = json.loads(argv[2]) if len(argv) > 2 else []
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    store = PrivateSQLTrackerStore(domain=domain, url=url)
    tracker = await store.get_or_create_tracker(conversation, append_action_listen=False)
    for data in appended:
        tracker.update(Event.from_parameters(data), domain)
    if appended:
        await store.save(tracker)
    again = await store.retrieve(conversation)
    print(json.dumps([event.as_dict() for event in again.events] if again else []))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
