"""Every table the actions show, asked in Spanish: its headers as the widget and Slack show them.

A table's headers travel with its data (`actions.view.table`): the channels show them as
they come, so a header is in the person's language and cased as the action gave it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set, Type

import pytest

from actions import i18n
from actions.addresses import ActionShowAddresses
from actions.base import AccountAction, ListAction
from actions.contracts import ActionListServiceContracts
from actions.devices import ActionListDevices
from actions.invoices import ActionShowInvoices, ActionShowQuotes
from actions.orders import ActionListRecentOrders
from actions.payments import ActionListPaymentMethods, ActionListQuickCheckout
from actions.reports import ActionListReports
from actions.subscriptions import ActionListSubscriptions
from actions.support import ActionListDocuments, ActionShowAccountTeam, ActionSupportHistory
from actions.users import ActionListUsers
from bot.chat.replies import Reply
from bot.slack.blocks import Choices, render

# A site admin of a US Premier account with reporting access may see every table.
ANA = "ana.admin@acme.example"
TABLES: List[Type[AccountAction]] = [
    ActionListRecentOrders,
    ActionShowInvoices,
    ActionShowQuotes,
    ActionListServiceContracts,
    ActionListSubscriptions,
    ActionListDevices,
    ActionShowAccountTeam,
    ActionListDocuments,
    ActionSupportHistory,
    ActionListReports,
    ActionShowAddresses,
    ActionListPaymentMethods,
    ActionListQuickCheckout,
    ActionListUsers,
]


def english_only(names: Set[str]) -> Set[str]:
    """The English headers of these columns that Spanish words differently ("Total" is both)."""
    spanish = {i18n.field_label(name, "es") for name in names}
    return {i18n.field_label(name, "en") for name in names} - spanish


def slack_headers(data: Dict[str, Any]) -> List[str]:
    """The field headers of the Block Kit Slack is asked to show for this data."""
    reply = Reply(text="…", data=data)
    blocks = render(reply, Choices(asker="U0ANA", kind="im"), lambda n: f"+{n}")
    fields = [f for block in blocks for f in block.get("fields") or []]
    return [f["text"].split("\n", 1)[0] for f in fields]


def test_the_walk_covers_every_list_action() -> None:
    def concrete(cls: type) -> Set[type]:
        found = {cls} if not getattr(cls, "__abstractmethods__", None) else set()
        return found.union(*(concrete(sub) for sub in cls.__subclasses__()))

    assert concrete(ListAction) <= set(TABLES)


@pytest.mark.parametrize("action", TABLES, ids=lambda action: action().name())
async def test_every_header_of_every_table_is_in_spanish(services, run, action) -> None:
    outcome = await run(action(), services.token(ANA), slots={"language": "es"})
    tables = [
        outcome.data(m["response"])
        for m in outcome.messages
        if (m.get("custom") or {}).get("type") == "list"
    ]
    assert len(tables) == 1, f"{action().name()} showed no table: {outcome.responses}"
    data = tables[0]

    headers = {column["name"]: column["label"] for column in data.get("columns") or []}
    assert headers, "the table's headers are sent with it"
    assert next(iter(headers)) == "item", "the item's number and title come first"
    assert headers == {name: i18n.field_label(name, "es") for name in headers}
    assert not set(headers.values()) & english_only(set(headers))

    # Every field the table shows has its column, labelled as the field is.
    fields = {f["name"]: f["label"] for item in data["items"] for f in item.get("fields") or []}
    assert fields.items() <= headers.items()
    if any(item.get("status") for item in data["items"]):
        assert "status" in headers
    if any(item.get("link") for item in data["items"]):
        assert "link" in headers

    # Slack shows each item's fields under the same headers, with the same casing.
    shown_in_slack = slack_headers(data)
    assert set(shown_in_slack) <= {f"*{label}*" for label in fields.values()}
    assert len(shown_in_slack) == sum(len(i.get("fields") or []) for i in data["items"][:15])
