"""The conversations a Rasa process is serving, kept deserialised between their turns.

Stock Rasa reads a conversation's whole session from the SQL tracker store at every message,
turns each row back into an event (`Event.from_parameters` looks the class up among every
subclass) and replays them all into a tracker: at turn 200 that was 176 ms of the 321 ms a
message took, growing with every turn. `PrivateSQLTrackerStore` keeps the tracker it last
stored or read here instead, with what makes reusing it safe:

- `version`: the id of the newest stored event of the conversation. Event ids only grow, and
  every store of every replica appends through the same table, so "the newest id is still
  `version`" (one indexed query) means nobody else has written the conversation since: the
  copy is current. Another replica's turn, a prune, a conversation deleted: the id differs
  and the store reads the conversation again, as stock Rasa always does.
- `stored`: how many events the tracker had when it matched the database. A turn appends to
  the tracker it was given and stores it at its end; a turn that failed before storing left
  events the database does not hold, and `len(tracker.events) != stored` says so.

The lock store already serialises the turns of one conversation across replicas; the version
check is what makes a replica's copy safe after another replica's turn.

Memory is bounded by `budget_bytes`: a kept conversation counts as the JSON size of its
events (what the rows hold) times `MEMORY_PER_JSON_BYTE`, what the deserialised tracker and
the states kept with it take; the least recently used conversations go first, and one larger
than the whole budget is never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

# Bytes of memory a kept conversation takes per byte of its events' JSON (tracemalloc): 4.46
# for the deserialised tracker of real small-talk conversations (12 of 2,400 to 8,900 events)
# and 0.5 more for the dialogue states kept with it (bot.chat.incremental_states); 5.7 in all
# for the shorter events of tests/chat/test_live_trackers.py. Counting JSON bytes alone let
# a 64 MB budget hold some 300 MB.
MEMORY_PER_JSON_BYTE = 6


@dataclass
class LiveTracker:
    """One conversation's tracker and what it matched in the store."""

    tracker: Any  # rasa.shared.core.trackers.DialogueStateTracker
    version: int  # id of the newest stored event when this tracker matched the store
    stored: int  # len(tracker.events) at that moment
    size: int  # bytes of its events' JSON

    @property
    def memory(self) -> int:
        """What it costs in the budget: the memory it is estimated to take."""
        return self.size * MEMORY_PER_JSON_BYTE

    @property
    def unsaved(self) -> bool:
        """The tracker holds events the store does not (a turn that did not finish)."""
        return len(self.tracker.events) != self.stored


class LiveTrackers:
    """A least-recently-used map of conversation id to `LiveTracker`, bounded in memory."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[str, LiveTracker] = OrderedDict()
        self.size = 0  # the kept trackers' estimated memory, bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, conversation: str) -> Optional[LiveTracker]:
        entry = self._entries.get(conversation)
        if entry is not None:
            self._entries.move_to_end(conversation)
        return entry

    def put(self, conversation: str, entry: LiveTracker) -> None:
        self.drop(conversation)
        if entry.memory > self.budget_bytes:
            return
        self._entries[conversation] = entry
        self.size += entry.memory
        while self.size > self.budget_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.size -= oldest.memory

    def drop(self, conversation: str) -> None:
        entry = self._entries.pop(conversation, None)
        if entry is not None:
            self.size -= entry.memory
