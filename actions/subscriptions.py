"""Software subscriptions of the account (offered in the US only)."""

from __future__ import annotations

from typing import List

from actions import i18n, view
from actions.base import ListAction, Turn
from bot.chat.replies import Item
from bot.services import schemas


def subscription_line(turn: Turn, subscription: schemas.SubscriptionOut) -> str:
    return (
        f"• {subscription.product} · {subscription.seats} · "
        f"{i18n.status(subscription.status, turn.language)} · {turn.day(subscription.renews_on)}"
    )


class ActionListSubscriptions(ListAction):
    capability = "list_subscriptions"
    response, empty_response = "utter_subscriptions", "utter_no_subscriptions"
    lines_field, kind = "subscriptions", "subscriptions"

    def name(self) -> str:
        return "action_list_subscriptions"

    async def fetch(self, turn: Turn) -> List[schemas.SubscriptionOut]:
        return await turn.session.subscriptions()

    def line(self, turn: Turn, item: schemas.SubscriptionOut) -> str:
        return subscription_line(turn, item)

    def item(self, turn: Turn, item: schemas.SubscriptionOut) -> Item:
        return Item(
            id=item.product,
            title=item.product,
            status=view.status(turn, item.status),
            fields=view.fields(turn, seats=str(item.seats), renews_on=turn.day(item.renews_on)),
        )
