"""What an action shows, as data beside its text (the shape is `bot.chat.replies`).

Values arrive already localised (`actions.i18n`: money, days, roles, statuses);
this module only puts them into Fields labelled in the person's language and
gives a status the tone the channels colour it with. Titles are values (an
account's name, an order's number), never wording. A table's headers are sent
too (`table`), so that no channel words or re-cases a header itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from actions import i18n
from bot.chat.replies import Field, Item, ListData, Status, Tone

if TYPE_CHECKING:  # actions.base sends tables through `table` (no import cycle at run time)
    from actions.base import Turn

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


@dataclass(frozen=True)
class Column:
    """A table's column: what it shows (a field's name, "item", "status" or "link"), its header."""

    name: str
    label: str


@dataclass(frozen=True)
class Table(ListData):
    """A list with its columns' headers, in the order a table shows them."""

    columns: Sequence[Column] = ()


def columns(turn: Turn, items: Sequence[Item]) -> List[Column]:
    """The headers of a table of `items` in the person's language.

    "item" (number and title) first, then "status" when an item has one, each field
    in the order items first show it (labelled as the field is), then "link" when an
    item has one.
    """
    labelled: Dict[str, str] = {}
    for item in items:
        for each in item.fields:
            labelled.setdefault(each.name, each.label)
    shown = [Column("item", i18n.field_label("item", turn.language))]
    if any(item.status for item in items):
        shown.append(Column("status", i18n.field_label("status", turn.language)))
    shown += [Column(name, label) for name, label in labelled.items()]
    if any(item.link for item in items):
        shown.append(Column("link", i18n.field_label("link", turn.language)))
    return shown


def table(turn: Turn, data: ListData) -> Table:
    """A list as a table with its headers in the person's language (what channels render)."""
    return Table(data.kind, data.title, data.items, columns(turn, data.items))
