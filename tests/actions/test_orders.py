"""Orders actions against the real services: responses, slots and the cart's contents."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.changes import ActionCancelChange, ActionConfirmChange
from actions.orders import ActionListRecentOrders, ActionOrderStatus, ActionReorder
from bot.services import models as m
from tests.actions.harness import field_labels, field_values


def entity(name, value):
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def cart_rows(services, email):
    with Session(services.engine) as session:
        return session.scalar(
            select(func.count()).select_from(m.CartItem).filter_by(user_id=services.user_id(email))
        )


async def test_recent_orders_lists_only_the_last_30_days(services, run):
    outcome = await run(ActionListRecentOrders(), services.token("ben.buyer@acme.example"))
    assert outcome.responses == ["utter_recent_orders"]
    listed = outcome.values("utter_recent_orders")["orders"]
    assert "100000001" in listed and "100000003" in listed
    assert "100000004" not in listed  # 47 days ago


async def test_order_status_in_spanish_uses_spanish_values(services, run):
    outcome = await run(
        ActionOrderStatus(),
        services.token("diego.admin@globex.example"),
        entities=[entity("order_number", "200000001")],
        slots={"language": "es"},
    )
    values = outcome.values("utter_order_status")
    assert values["status"] == "enviado"
    assert "$" in values["total"]


async def test_another_accounts_order_is_not_found(services, run, audit_rows):
    before = len(audit_rows(action="probe:order_status"))
    outcome = await run(
        ActionOrderStatus(),
        services.token("lena.buyer@initech.example"),
        entities=[entity("order_number", "100000001")],
    )
    assert outcome.responses == ["utter_not_found"]
    assert len(audit_rows(expect=before + 1, action="probe:order_status")) == before + 1


async def test_reorder_shows_lines_then_adds_them_once(services, run):
    email = "sara.shopper@acme.example"
    token = services.token(email)
    proposed = await run(ActionReorder(), token)
    assert proposed.responses == ["utter_reorder_summary", "utter_confirm_buttons"]
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "reorder" and pending["params"]["order_number"] == "100000001"
    before = cart_rows(services, email)

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_reorder_done"]
    assert done.slot("pending_change") is None and done.slot("last_change") == pending
    added = cart_rows(services, email) - before
    assert added == 3

    again = await run(ActionConfirmChange(), token, slots={"last_change": pending})
    assert again.responses == ["utter_already_done"]
    # Even a replayed confirmation with the same pending change acts once (idempotency key).
    replay = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert replay.responses == ["utter_reorder_done"]
    assert cart_rows(services, email) - before == 3


async def test_declining_drops_the_pending_change(services, run):
    token = services.token("ben.buyer@acme.example")
    proposed = await run(ActionReorder(), token)
    cancelled = await run(
        ActionCancelChange(), token, slots={"pending_change": proposed.slot("pending_change")}
    )
    assert cancelled.responses == ["utter_change_cancelled"]
    assert cancelled.slot("pending_change") is None


async def test_account_team_cannot_reorder_and_is_told_why(services, run):
    outcome = await run(ActionReorder(), services.token("eve.rep@vendor.example"))
    assert outcome.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in outcome.values("utter_denied_role")["admins"]


async def test_without_a_token_the_person_is_asked_to_sign_in(run):
    outcome = await run(ActionListRecentOrders(), None)
    assert outcome.responses == ["utter_sign_in_required"]


class _ReorderSkippingTheCheck(ActionReorder):
    """A faulty action that forgot its permission row: 'help' is allowed to everyone."""

    capability = "help"


class _ConfirmSkippingTheCheck(ActionConfirmChange):
    """A faulty confirmation that does not re-check the table before writing."""

    def capability_for(self, tracker):
        return "help"


async def test_an_action_that_skipped_the_check_is_still_refused_by_the_services(services, run):
    email = "eve.rep@vendor.example"  # account team: read-only
    token = services.token(email, "Acme Corporation")
    proposed = await run(_ReorderSkippingTheCheck(), token)
    pending = proposed.slot("pending_change")
    assert pending["kind"] == "reorder"  # the faulty action went as far as proposing
    before = cart_rows(services, email)
    done = await run(_ConfirmSkippingTheCheck(), token, slots={"pending_change": pending})
    # Nothing in the bot stopped it; the services refused, and the person is told why.
    assert done.responses == ["utter_denied_role"]
    assert cart_rows(services, email) == before


async def test_the_services_refuse_a_write_even_when_called_directly(services):
    from bot.client import AccountServices, errors

    async with AccountServices(services.base_url) as client:
        eve = client.as_user(services.token("eve.rep@vendor.example", "Acme Corporation"))
        with pytest.raises(errors.Forbidden) as refused:
            await eve.reorder("100000001", idempotency_key="skip-check-0001")
    assert refused.value.reason == "role"


# --- what the actions show as data beside the text ---------------------------------------


def order_lines(services, number):
    with Session(services.engine) as session:
        order = session.scalar(select(m.Order).filter_by(number=number))
        return [f"{li.quantity} × {li.description} ({li.sku})" for li in order.lines]


async def test_recent_orders_are_a_list_of_orders_with_their_status(services, run):
    outcome = await run(ActionListRecentOrders(), services.token("ben.buyer@acme.example"))
    shown = outcome.data("utter_recent_orders")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "orders", "Acme Corporation")
    items = {item["id"]: item for item in shown["items"]}
    assert set(items) == {"100000001", "100000002", "100000003"}
    assert items["100000001"]["status"] == {
        "value": "processing",
        "label": "processing",
        "tone": "info",
    }
    assert items["100000003"]["status"]["tone"] == "ok"  # delivered
    assert field_labels(items["100000001"]["fields"]) == {"placed_on": "Placed", "total": "Total"}
    assert field_values(items["100000001"]["fields"])["total"].startswith("$")


async def test_an_orders_status_is_a_card_in_the_persons_language(services, run):
    outcome = await run(
        ActionOrderStatus(),
        services.token("diego.admin@globex.example"),
        entities=[entity("order_number", "200000001")],
        slots={"language": "es"},
    )
    shown = outcome.data("utter_order_status")
    assert (shown["type"], shown["kind"]) == ("card", "order")
    item = shown["item"]
    assert item["id"] == "200000001"
    assert item["status"] == {"value": "shipped", "label": "enviado", "tone": "info"}
    labels = field_labels(item["fields"])
    assert labels == {
        "placed_on": "Fecha del pedido",
        "total": "Total",
        "estimated_delivery": "Entrega estimada",
        "tracking": "Seguimiento",
    }
    text = outcome.values("utter_order_status")
    assert field_values(item["fields"])["tracking"] == text["tracking"]


async def test_a_reorder_summary_carries_a_confirmation_with_the_orders_lines(services, run):
    outcome = await run(ActionReorder(), services.token("ben.buyer@acme.example"))
    shown = outcome.data("utter_reorder_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "reorder",
        "100000001",
    )
    products = [f["value"] for f in shown["fields"] if f["name"] == "product"]
    assert products == order_lines(services, "100000001")
    values = field_values(shown["fields"])
    assert values["order_number"] == "100000001"
    assert values["total"] == outcome.values("utter_reorder_summary")["total"]
    # The buttons' message stays text and choices only.
    assert outcome.data("utter_confirm_buttons") == {}
