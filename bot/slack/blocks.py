"""The layer's structured replies as Block Kit (the shape is `bot.chat.replies`).

A reply's `text` becomes a section (and the notification text); its `data`
becomes a header and sections: a list item per section with its fields in
columns, a card the same way, a confirmation as the fields of the change; its
`buttons` become one actions block whose `block_id` says whose they are and
which conversation a click continues (`Choices`). Values and labels arrive
already in the person's language: this module adds no words, only layout, and
shows each label as the action cased it. A list's `columns` (the widget's table
headers) are not used: each item's section heads its fields with their own labels.

Slack's limits are respected here so that no reply is refused: 50 blocks, 10
fields a section, 3000 characters a section, 2000 a field, 75 a button label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, cast

from bot.chat.replies import Reply

MAX_ITEMS = 15
MAX_FIELDS = 10
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_BUTTON = 75
MAX_VALUE = 2000
CHOICE_ACTION_PREFIX = "premier_choice_"
CHOICES_PREFIX = "premier"
TONE_MARKS = {
    "ok": ":large_green_circle:",
    "warn": ":large_yellow_circle:",
    "bad": ":red_circle:",
    "info": ":white_circle:",
}
Block = Dict[str, Any]
# Where a question was asked: a DM with the app, a channel (its thread), or a slash command.
Kind = Literal["im", "channel", "command"]
KINDS = ("im", "channel", "command")


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn, so a value cannot become a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Choices:
    """Whose buttons these are and where a click goes on: encoded in the actions block's id.

    `kind` is where the question was asked ("im", "channel" or "command") and
    `thread_ts` the Slack thread, so a click continues the same conversation.
    """

    asker: str
    kind: Kind
    thread_ts: Optional[str] = None

    def block_id(self) -> str:
        return "|".join((CHOICES_PREFIX, self.asker, self.kind, self.thread_ts or "-"))

    @classmethod
    def parse(cls, block_id: str) -> Optional[Choices]:
        parts = block_id.split("|")
        if len(parts) != 4 or parts[0] != CHOICES_PREFIX or parts[2] not in KINDS:
            return None
        thread_ts = None if parts[3] == "-" else parts[3]
        return cls(asker=parts[1], kind=cast(Kind, parts[2]), thread_ts=thread_ts)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION)}}


def _fields(fields: Sequence[Mapping[str, Any]]) -> List[Dict[str, str]]:
    return [
        {
            "type": "mrkdwn",
            "text": _clip(f"*{escape(str(f['label']))}*\n{escape(str(f['value']))}", MAX_FIELD),
        }
        for f in fields[:MAX_FIELDS]
    ]


def _item(item: Mapping[str, Any]) -> Block:
    """One list item or card: title, subtitle, status and link as text; fields as columns."""
    line = f"*{escape(str(item.get('title', '')))}*"
    status = item.get("status")
    if isinstance(status, Mapping):
        mark = TONE_MARKS.get(str(status.get("tone")), TONE_MARKS["info"])
        line += f"  {mark} {escape(str(status.get('label', '')))}"
    lines = [line]
    if item.get("subtitle"):
        lines.append(escape(str(item["subtitle"])))
    link = item.get("link")
    if isinstance(link, Mapping) and link.get("url"):
        lines.append(f"<{link['url']}|{escape(str(link.get('label') or link['url']))}>")
    block = _section("\n".join(lines))
    fields = _fields(item.get("fields") or [])
    if fields:
        block["fields"] = fields
    return block


def _header(title: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}}


def data_blocks(data: Mapping[str, Any], more: Callable[[int], str]) -> List[Block]:
    """The blocks of a reply's `data`; `more(n)` words "and n more" in the person's language."""
    kind = data.get("type")
    if kind == "list":
        items = list(data.get("items") or [])
        blocks = [_header(str(data.get("title", "")))] if data.get("title") else []
        blocks += [_item(item) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            blocks.append({"type": "context", "elements": [_mrkdwn(more(len(items) - MAX_ITEMS))]})
        return blocks
    if kind == "card" and isinstance(data.get("item"), Mapping):
        return [_item(data["item"])]
    if kind == "confirmation":
        blocks = [_header(str(data.get("title", "")))] if data.get("title") else []
        fields = _fields(data.get("fields") or [])
        if fields:
            blocks.append({"type": "section", "fields": fields})
        return blocks
    return []


def _mrkdwn(text: str) -> Dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def button_blocks(buttons: Sequence[Mapping[str, str]], choices: Choices) -> List[Block]:
    if not buttons:
        return []
    elements = []
    for index, button in enumerate(buttons[:25]):
        element: Dict[str, Any] = {
            "type": "button",
            "action_id": f"{CHOICE_ACTION_PREFIX}{index}",
            "text": {"type": "plain_text", "text": _clip(button["title"], MAX_BUTTON)},
            "value": button["payload"][:MAX_VALUE],
        }
        if button["payload"] == "/affirm":
            element["style"] = "primary"
        elements.append(element)
    return [{"type": "actions", "block_id": choices.block_id(), "elements": elements}]


def render(reply: Reply, choices: Choices, more: Callable[[int], str]) -> List[Block]:
    """A whole reply: its text, then its data, then its buttons (at most 50 blocks)."""
    blocks: List[Block] = [_section(escape(reply.text))] if reply.text else []
    if reply.data:
        blocks += data_blocks(reply.data, more)
    blocks += button_blocks(reply.buttons, choices)
    return blocks[:50]


def chosen(blocks: Sequence[Block], block_id: str, title: str) -> List[Block]:
    """The message after a click: its buttons replaced by the choice made (they work once)."""
    mark = {"type": "context", "elements": [_mrkdwn(f":white_check_mark: *{escape(title)}*")]}
    return [mark if block.get("block_id") == block_id else dict(block) for block in blocks]


# --- the handoff desk (bot/slack/desk.py) ---------------------------------------------------

DESK_CLAIM_ACTION = "premier_desk_claim"
DESK_CLOSE_ACTION_PREFIX = "premier_desk_close_"
DESK_RELEASE_ACTION = "premier_desk_release"
DESK_BLOCK_PREFIX = "premier_desk"


@dataclass(frozen=True)
class DeskButton:
    action_id: str
    label: str
    style: Optional[str] = None  # "primary" or "danger"


def desk_block_id(handoff_id: int) -> str:
    """The actions block of a handoff's buttons; a click says which handoff by it."""
    return f"{DESK_BLOCK_PREFIX}|{handoff_id}"


def desk_handoff_id(block_id: str) -> Optional[int]:
    prefix, _, rest = block_id.partition("|")
    return int(rest) if prefix == DESK_BLOCK_PREFIX and rest.isdigit() else None


def desk_card(
    handoff_id: int,
    title: str,
    fields: Sequence[Mapping[str, Any]],
    *,
    status: Optional[str] = None,
    lines: Sequence[str] = (),
    buttons: Sequence[DeskButton] = (),
) -> List[Block]:
    """A handoff as Block Kit: title, its facts in columns, a status line, lines, buttons.

    `status` and `lines` are mrkdwn the caller has escaped; labels and values are escaped here.
    Lines (a transcript) are packed into as few sections as fit, the last ones kept.
    """
    blocks: List[Block] = [_header(title)]
    for start in range(0, len(fields), MAX_FIELDS):
        blocks.append({"type": "section", "fields": _fields(fields[start : start + MAX_FIELDS])})
    if status:
        blocks.append({"type": "context", "elements": [_mrkdwn(_clip(status, MAX_SECTION))]})
    chunks: List[str] = []
    for line in lines:
        line = _clip(line, MAX_SECTION)
        if chunks and len(chunks[-1]) + 1 + len(line) <= MAX_SECTION:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    room = 50 - len(blocks) - (1 if buttons else 0)
    blocks += [_section(chunk) for chunk in chunks[-room:]] if room > 0 else []
    if buttons:
        elements = []
        for button in buttons:
            element: Dict[str, Any] = {
                "type": "button",
                "action_id": button.action_id,
                "text": {"type": "plain_text", "text": _clip(button.label, MAX_BUTTON)},
                "value": str(handoff_id),
            }
            if button.style:
                element["style"] = button.style
            elements.append(element)
        blocks.append(
            {"type": "actions", "block_id": desk_block_id(handoff_id), "elements": elements}
        )
    return blocks
