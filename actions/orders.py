"""Recent orders, order status, and reorder (an earlier order's lines into the cart)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from actions import i18n, view
from actions.base import AccountAction, ListAction, Turn
from actions.changes import propose, register
from bot.chat.replies import CardData, ConfirmationData, Item
from bot.services import schemas

RECENT_DAYS = 30


def order_line(turn: Turn, order: schemas.OrderOut) -> str:
    return (
        f"• {order.number} · {turn.day(order.placed_at)} · "
        f"{i18n.status(order.status, turn.language)} · {turn.money(order.total)}"
    )


def item_text(line: Any) -> str:
    """One line of an order or the cart: '10 × Latitude 5440 laptop (LAT-5440)'."""
    return f"{line.quantity} × {line.description} ({line.sku})"


def item_lines(turn: Turn, lines: List[Any]) -> str:
    return "\n".join(f"• {item_text(li)}" for li in lines)


def delivery_of(turn: Turn, order: schemas.OrderOut) -> str:
    if order.estimated_delivery:
        return turn.day(order.estimated_delivery)
    return i18n.missing("not_available", turn.language)


def tracking_of(turn: Turn, order: schemas.OrderOut) -> str:
    tracking = f"{order.carrier} {order.tracking_number}".strip()
    return tracking or i18n.missing("not_available", turn.language)


def order_item(turn: Turn, order: schemas.OrderOut, *, details: bool = False) -> Item:
    """An order as data: its number, status, date and total (and delivery, for its card)."""
    more = (
        {"estimated_delivery": delivery_of(turn, order), "tracking": tracking_of(turn, order)}
        if details
        else {}
    )
    return Item(
        id=order.number,
        title=order.number,
        status=view.status(turn, order.status),
        fields=view.fields(
            turn, placed_on=turn.day(order.placed_at), total=turn.money(order.total), **more
        ),
    )


class ActionListRecentOrders(ListAction):
    capability = "list_recent_orders"
    response, empty_response = "utter_recent_orders", "utter_no_recent_orders"
    lines_field, kind = "orders", "orders"

    def name(self) -> str:
        return "action_list_recent_orders"

    async def fetch(self, turn: Turn) -> List[schemas.OrderOut]:
        return await turn.session.recent_orders(days=RECENT_DAYS)

    def line(self, turn: Turn, item: schemas.OrderOut) -> str:
        return order_line(turn, item)

    def item(self, turn: Turn, item: schemas.OrderOut) -> Item:
        return order_item(turn, item)

    def values(self, turn: Turn) -> Dict[str, Any]:
        return {"days": RECENT_DAYS}


class ActionOrderStatus(AccountAction):
    capability = "order_status"

    def name(self) -> str:
        return "action_order_status"

    async def act(self, turn: Turn) -> None:
        number = turn.tracker.get_latest_entity_values("order_number")
        wanted: Optional[str] = next(iter(number), None)
        if not wanted:
            turn.say("utter_ask_order_number")
            return
        order = await turn.session.order(wanted.strip())
        turn.show(
            "utter_order_status",
            CardData("order", order_item(turn, order, details=True)),
            number=order.number,
            status=i18n.status(order.status, turn.language),
            placed=turn.day(order.placed_at),
            total=turn.money(order.total),
            delivery=delivery_of(turn, order),
            tracking=tracking_of(turn, order),
        )


class ActionReorder(AccountAction):
    """Show the lines of the chosen (or the last online) order and ask to add them."""

    capability = "reorder"

    def name(self) -> str:
        return "action_reorder"

    async def act(self, turn: Turn) -> None:
        wanted = next(iter(turn.tracker.get_latest_entity_values("order_number")), None)
        if wanted:
            order = await turn.session.order(wanted.strip())
        else:
            history = await turn.session.recent_orders(days=3650)
            online = [o for o in history if o.channel == "online" and o.lines]
            if not online:
                turn.say("utter_no_order_to_reorder")
                return
            order = online[0]
        summary = ConfirmationData(
            "reorder",
            order.number,
            [
                view.field(turn, "order_number", order.number),
                view.field(turn, "placed_on", turn.day(order.placed_at)),
                *(view.field(turn, "product", item_text(li)) for li in order.lines),
                view.field(turn, "total", turn.money(order.total)),
            ],
        )
        turn.show(
            "utter_reorder_summary",
            summary,
            number=order.number,
            placed=turn.day(order.placed_at),
            lines=item_lines(turn, order.lines),
            total=turn.money(order.total),
        )
        propose(turn, "reorder", {"order_number": order.number})


@register("reorder", capability="reorder")
async def add_order_to_cart(turn: Turn, params: Dict[str, Any], key: str) -> None:
    cart = await turn.session.reorder(params["order_number"], idempotency_key=key)
    turn.say(
        "utter_reorder_done",
        number=params["order_number"],
        lines=item_lines(turn, cart.added),
        cart_total=turn.money(cart.total),
        count=len(cart.items),
    )
