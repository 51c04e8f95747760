"""Software subscriptions of the account (offered in the US only)."""

from __future__ import annotations

from actions import i18n
from actions.base import AccountAction, Turn
from bot.services import schemas


def subscription_line(turn: Turn, subscription: schemas.SubscriptionOut) -> str:
    return (
        f"• {subscription.product} · {subscription.seats} · "
        f"{i18n.status(subscription.status, turn.language)} · {turn.day(subscription.renews_on)}"
    )


class ActionListSubscriptions(AccountAction):
    capability = "list_subscriptions"

    def name(self) -> str:
        return "action_list_subscriptions"

    async def act(self, turn: Turn) -> None:
        subscriptions = await turn.session.subscriptions()
        if not subscriptions:
            turn.say("utter_no_subscriptions", account=turn.account.name)
            return
        turn.say(
            "utter_subscriptions",
            account=turn.account.name,
            count=len(subscriptions),
            subscriptions="\n".join(subscription_line(turn, s) for s in subscriptions),
        )
