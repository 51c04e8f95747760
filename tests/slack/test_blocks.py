"""The structured replies as Block Kit: what Slack is asked to show, within Slack's limits."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from slack_sdk.models.blocks import Block

from actions import view
from bot.chat.replies import (
    CardData,
    ConfirmationData,
    Field,
    Item,
    Link,
    ListData,
    Reply,
    Status,
)
from bot.slack.blocks import MAX_ITEMS, Choices, chosen, render

CHOICES = Choices(asker="U0BEN", kind="channel", thread_ts="1764700000.000100")


def more(count: int) -> str:
    return f"…and {count} more."


def slack_accepts(blocks: List[Dict[str, Any]]) -> None:
    """Slack's own models check every limit (lengths, counts) the Web API enforces."""
    assert len(blocks) <= 50
    for block in blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


def invoice(n: int, status: str = "unpaid", tone: str = "warn") -> Item:
    return Item(
        id=f"INV-{n:08d}",
        title=f"INV-{n:08d}",
        status=Status(status, status, tone),  # type: ignore[arg-type]
        fields=(Field("amount", "Amount", "$1,250.00"), Field("due_on", "Due", "Dec 3, 2026")),
        link=Link("PDF", f"https://portal.example/invoices/INV-{n:08d}.pdf"),
    )


def test_a_list_is_a_header_and_one_section_per_item_with_its_fields():
    data = ListData("invoices", "Unpaid invoices — Acme Corporation", [invoice(3), invoice(4)])
    reply = Reply(text="2 unpaid invoices for Acme Corporation.", data=data.as_json())
    blocks = render(reply, CHOICES, more)
    slack_accepts(blocks)
    assert blocks[0]["text"]["text"] == "2 unpaid invoices for Acme Corporation."
    assert blocks[1] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Unpaid invoices — Acme Corporation"},
    }
    first = blocks[2]
    assert first["text"]["text"].startswith("*INV-00000003*  :large_yellow_circle: unpaid")
    assert "<https://portal.example/invoices/INV-00000003.pdf|PDF>" in first["text"]["text"]
    assert [f["text"] for f in first["fields"]] == ["*Amount*\n$1,250.00", "*Due*\nDec 3, 2026"]
    assert not any(b["type"] == "actions" for b in blocks)


def test_a_long_list_shows_the_first_items_and_says_how_many_more():
    items = [invoice(n) for n in range(MAX_ITEMS + 5)]
    blocks = render(
        Reply(text="many", data=ListData("invoices", "All", items).as_json()), CHOICES, more
    )
    slack_accepts(blocks)
    assert sum(1 for b in blocks if b.get("fields")) == MAX_ITEMS
    assert blocks[-1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "…and 5 more."}],
    }


def test_a_device_card_is_one_section_with_its_status_colour():
    item = Item(
        id="7XK2M93",
        title="Latitude 7440 · 7XK2M93",
        subtitle="Acme IT",
        status=Status("expired", "expired", "bad"),
        fields=(Field("warranty_ends", "Warranty ends", "Jan 4, 2026"),),
    )
    blocks = render(
        Reply(text="Here it is.", data=CardData("device", item).as_json()), CHOICES, more
    )
    slack_accepts(blocks)
    (card,) = blocks[1:]
    assert ":red_circle: expired" in card["text"]["text"] and "Acme IT" in card["text"]["text"]
    assert card["fields"] == [{"type": "mrkdwn", "text": "*Warranty ends*\nJan 4, 2026"}]


def test_a_confirmation_shows_its_fields_and_buttons_that_name_the_asker_and_thread():
    data = ConfirmationData(
        "reorder", "Reorder 100000002", (Field("lines", "Lines", "2 × Dock WD22TB4"),)
    )
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    blocks = render(Reply(text="Add these?", buttons=buttons, data=data.as_json()), CHOICES, more)
    slack_accepts(blocks)
    assert blocks[1]["text"]["text"] == "Reorder 100000002"
    assert blocks[2]["fields"] == [{"type": "mrkdwn", "text": "*Lines*\n2 × Dock WD22TB4"}]
    actions = blocks[-1]
    assert actions["type"] == "actions"
    assert Choices.parse(actions["block_id"]) == CHOICES
    yes, no = actions["elements"]
    assert (yes["value"], yes["style"], no["value"]) == ("/affirm", "primary", "/deny")
    assert "style" not in no


def test_text_from_data_cannot_mention_a_channel_or_forge_a_link():
    item = Item(id="x", title="<!channel> & <https://evil.example|click>", fields=())
    blocks = render(
        Reply(text="<@U0ANA> hi", data=CardData("device", item).as_json()), CHOICES, more
    )
    assert blocks[0]["text"]["text"] == "&lt;@U0ANA&gt; hi"
    assert (
        blocks[1]["text"]["text"] == "*&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;*"
    )


def test_slacks_limits_are_kept_whatever_the_reply_holds():
    fields = tuple(Field(f"f{i}", f"Label {i}", "v" * 2500) for i in range(30))
    item = Item(id="x", title="t" * 4000, fields=fields)
    buttons = [{"title": "b" * 200, "payload": f'/choose{{"n": {i}}}'} for i in range(40)]
    blocks = render(
        Reply(text="x" * 5000, buttons=buttons, data=CardData("device", item).as_json()),
        CHOICES,
        more,
    )
    slack_accepts(blocks)
    assert len(blocks[1]["fields"]) == 10


@pytest.mark.parametrize(
    "choices",
    [
        Choices("U0ANA", "im"),
        Choices("U0EVE", "channel", "1764700000.000200"),
        Choices("U0B", "command"),
    ],
)
def test_the_buttons_block_id_round_trips(choices):
    assert Choices.parse(choices.block_id()) == choices


@pytest.mark.parametrize("block_id", ["", "premier|U0ANA|im", "other|U0ANA|im|-", "premier|U|dm|-"])
def test_a_block_id_that_is_not_ours_is_not_taken_for_one(block_id):
    assert Choices.parse(block_id) is None


def test_a_click_replaces_the_buttons_by_the_choice_and_keeps_the_rest():
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    blocks = render(Reply(text="Add these?", buttons=buttons), CHOICES, more)
    after = chosen(blocks, CHOICES.block_id(), "Yes")
    slack_accepts(after)
    assert after[0] == blocks[0]
    assert after[1] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": ":white_check_mark: *Yes*"}],
    }
    assert not any(b["type"] == "actions" for b in after)


def test_a_spanish_table_keeps_the_headers_and_casing_the_action_gave():
    spanish = SimpleNamespace(language="es")  # what actions.view reads of a turn
    order = Item(
        id="200000001",
        title="200000001",
        status=view.status(spanish, "shipped"),  # type: ignore[arg-type]
        fields=view.fields(spanish, placed_on="3 dic 2026", total="1.234,56 US$"),  # type: ignore[arg-type]
    )
    data = view.table(spanish, ListData("orders", "Globex México", [order]))  # type: ignore[arg-type]
    blocks = render(Reply(text="1 pedido.", data=data.as_json()), CHOICES, more)
    slack_accepts(blocks)
    section = blocks[2]
    assert section["text"]["text"] == "*200000001*  :white_circle: enviado"
    assert [f["text"] for f in section["fields"]] == [
        "*Fecha del pedido*\n3 dic 2026",
        "*Total*\n1.234,56 US$",
    ]
