"""The one shape of what the assistant says: text, choices and the data behind them.

Every bot message a channel receives is a `Reply`:

    {"text": "3 unpaid invoices for Acme Corporation: ...",     # always present, readable
     "buttons": [{"title": "Yes", "payload": "/affirm"}, ...],   # choices, when it asks
     "data": {...}}                                            # what it shows, as data

`data` (version 1) is one of:

    {"type": "list", "kind": "invoices", "title": "...", "items": [Item, ...]}
    {"type": "card", "kind": "device", "item": Item}
    {"type": "confirmation", "kind": "pay_invoice", "title": "...", "fields": [Field, ...]}

    Item  = {"id": "INV-10000003", "title": "...", "subtitle"?: "...",
             "status"?: {"value": "overdue", "label": "vencida", "tone": "bad"},
             "fields": [Field, ...], "link"?: {"label": "...", "url": "..."}}
    Field = {"name": "due_on", "label": "Vence", "value": "3 dic 2026"}

Values and labels arrive already in the person's language (the actions localise
them; sentences stay in the domain's responses). The widget renders cards and
tables from `data`, Slack renders Block Kit, and the plain endpoint reads `text`.
Actions build `data` with the dataclasses below and send it with
`dispatcher.utter_message(response=..., json_message=data.as_json())`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence

Tone = Literal["ok", "warn", "bad", "info"]
DATA_VERSION = 1


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    value: str


@dataclass(frozen=True)
class Status:
    value: str
    label: str
    tone: Tone = "info"


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    fields: Sequence[Field] = ()
    subtitle: Optional[str] = None
    status: Optional[Status] = None
    link: Optional[Link] = None


def _clean(value: Any) -> Any:
    """asdict() without the empty optional parts, tuples as lists."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class ListData:
    kind: str
    title: str
    items: Sequence[Item]

    def as_json(self) -> Dict[str, Any]:
        return {"type": "list", "version": DATA_VERSION, **_clean(asdict(self))}


@dataclass(frozen=True)
class CardData:
    kind: str
    item: Item

    def as_json(self) -> Dict[str, Any]:
        return {"type": "card", "version": DATA_VERSION, **_clean(asdict(self))}


@dataclass(frozen=True)
class ConfirmationData:
    kind: str
    title: str
    fields: Sequence[Field] = field(default_factory=tuple)

    def as_json(self) -> Dict[str, Any]:
        return {"type": "confirmation", "version": DATA_VERSION, **_clean(asdict(self))}


# "handoff": the assistant opened a handoff (`actions/handoff.py`); the layer's desk reads it.
DATA_TYPES = frozenset({"list", "card", "confirmation", "handoff"})


@dataclass
class Reply:
    """One bot message as every channel receives it."""

    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)
    data: Optional[Dict[str, Any]] = None

    def as_json(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"text": self.text}
        if self.buttons:
            body["buttons"] = self.buttons
        if self.data is not None:
            body["data"] = self.data
        return body

    @classmethod
    def from_bot_message(cls, message: Dict[str, Any]) -> Reply:
        """From what Rasa hands an output channel (text, buttons, custom = the data)."""
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in message.get("buttons") or []
            if isinstance(b, dict)
        ]
        custom = message.get("custom")
        data = custom if isinstance(custom, dict) and custom.get("type") in DATA_TYPES else None
        return cls(text=str(message.get("text") or ""), buttons=buttons, data=data)
