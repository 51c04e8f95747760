"""What an action shows, as data beside its text (the shape is `bot.chat.replies`).

Values arrive already localised (`actions.i18n`: money, days, roles, statuses);
this module only puts them into Fields labelled in the person's language and
gives a status the tone the channels colour it with. Titles are values (an
account's name, an order's number), never wording.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from actions import i18n
from actions.base import Turn
from bot.chat.replies import Field, Status, Tone

# The tone of each status the services use; any other status is "info".
TONES: Dict[str, Tone] = {
    "paid": "ok",
    "active": "ok",
    "closed": "ok",
    "resolved": "ok",
    "delivered": "ok",
    "unpaid": "warn",
    "open": "warn",
    "expiring": "warn",
    "overdue": "bad",
    "expired": "bad",
}


def tone(value: Optional[str]) -> Tone:
    return TONES.get(value or "", "info")


def status(turn: Turn, value: str) -> Status:
    """A status code with its name in the person's language and its tone."""
    return Status(value=value, label=i18n.status(value, turn.language), tone=tone(value))


def field(turn: Turn, name: str, value: str) -> Field:
    return Field(name=name, label=i18n.field_label(name, turn.language), value=value)


def fields(turn: Turn, **values: Optional[str]) -> List[Field]:
    """One labelled field per value given, in that order; values that are not there are left out."""
    return [field(turn, name, value) for name, value in values.items() if value]
