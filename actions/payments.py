"""Payment types (masked cards) and quick-checkout profiles: read-only views."""

from __future__ import annotations

import datetime as dt
from typing import List

from actions import i18n, view
from actions.base import ListAction, Turn
from bot.chat.replies import Item
from bot.services import schemas


def is_expired(card: schemas.PaymentMethodOut, today: dt.date) -> bool:
    """A card is good through the last day of its expiry month."""
    if not (card.exp_year and card.exp_month):
        return False
    return (card.exp_year, card.exp_month) < (today.year, today.month)


class ActionListPaymentMethods(ListAction):
    capability = "list_payment_methods"
    response, empty_response = "utter_payment_methods", "utter_no_payment_methods"
    lines_field, kind = "methods", "payment_methods"

    def name(self) -> str:
        return "action_list_payment_methods"

    async def fetch(self, turn: Turn) -> List[schemas.PaymentMethodOut]:
        return await turn.session.payment_methods()

    def line(self, turn: Turn, item: schemas.PaymentMethodOut) -> str:
        expired = is_expired(item, dt.date.today())
        return f"• {i18n.card(item, turn.language)} · {item.holder}" + (
            f" · {i18n.status('expired', turn.language)}" if expired else ""
        )

    def item(self, turn: Turn, item: schemas.PaymentMethodOut) -> Item:
        expired = is_expired(item, dt.date.today())
        return Item(
            id=str(item.id),
            title=i18n.card(item, turn.language),  # masked, with its expiry
            status=view.status(turn, "expired") if expired else None,
            fields=view.fields(turn, holder=item.holder),
        )


class ActionListQuickCheckout(ListAction):
    capability = "list_quick_checkout"
    response, empty_response = "utter_quick_checkout", "utter_no_quick_checkout"
    lines_field, kind = "profiles", "quick_checkout"

    def name(self) -> str:
        return "action_list_quick_checkout"

    async def fetch(self, turn: Turn) -> List[schemas.QuickCheckoutOut]:
        return await turn.session.quick_checkout()

    def line(self, turn: Turn, item: schemas.QuickCheckoutOut) -> str:
        return (
            f"• {item.name}: {i18n.shipping_method(item.shipping_method, turn.language)} · "
            f"{item.address.label}, "
            f"{item.address.line1}, {item.address.city} · "
            f"{i18n.card(item.payment_method, turn.language)}"
        )

    def item(self, turn: Turn, item: schemas.QuickCheckoutOut) -> Item:
        address = f"{item.address.label}, {item.address.line1}, {item.address.city}"
        return Item(
            id=str(item.id),
            title=item.name,
            fields=view.fields(
                turn,
                shipping_method=i18n.shipping_method(item.shipping_method, turn.language),
                address=address,
                payment_method=i18n.card(item.payment_method, turn.language),
            ),
        )
