"""The account's devices with their warranty, and the warranty of one device by service tag.

The list can be narrowed by warranty: "which of our machines lose coverage soon" is the
devices whose warranty ends within a window (the `device_filter` entity, `expiring`, with
an optional `duration` such as "60 days"; 90 days by default), "devices out of warranty"
those already `expired`, "which are still covered" the `active` ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from actions import i18n, view
from actions.base import AccountAction, ListAction, Turn
from bot.chat.replies import CardData, Item, ListData
from bot.services import schemas

# The shapes users type a service tag in: 7XK2M93, 7xk2m93, 7XK-2M93, 7XK 2M93.
# Same as the NLU regexes (data/nlu/*/lookups.yml): a plain 7-letter word is not a tag.
TAG_IN_TEXT = re.compile(
    r"\b(?=[A-Za-z0-9]{0,6}[0-9])(?=[A-Za-z0-9]{0,6}[A-Za-z])[A-Za-z0-9]{7}\b"
    r"|\b(?=[A-Za-z0-9]{0,2}[0-9])(?=[A-Za-z0-9]{0,2}[A-Za-z])[A-Za-z0-9]{3}[- ]"
    r"(?=[A-Za-z0-9]{0,3}[0-9])(?=[A-Za-z0-9]{0,3}[A-Za-z])[A-Za-z0-9]{4}\b"
)


def days_left(days: int, language: str) -> str:
    """'25 days left' for a future end, '70 days ago' for a past one, in the person's language."""
    return i18n.days_left(days, language)


def service_tags_in(value: Any) -> List[str]:
    """Normalised service tags in an entity value, a list of them, or free text; in order."""
    texts = value if isinstance(value, list) else [value]
    tags: List[str] = []
    for text in texts:
        if not isinstance(text, str):
            continue
        whole = schemas.normalize_service_tag(text)
        if re.match(schemas.SERVICE_TAG, whole):
            tags.append(whole)
        else:
            tags.extend(schemas.normalize_service_tag(t) for t in TAG_IN_TEXT.findall(text))
    return list(dict.fromkeys(tags))


def device_line(turn: Turn, device: schemas.DeviceOut) -> str:
    return (
        f"• {device.service_tag} · {device.product} · "
        f"{i18n.plan(device.warranty_plan, turn.language)} · "
        f"{i18n.status(device.warranty_status, turn.language)} · "
        f"{turn.day(device.warranty_end)} ({days_left(device.days_left, turn.language)})"
    )


def device_item(turn: Turn, device: schemas.DeviceOut) -> Item:
    """A device as data: its tag, product, warranty plan, status and end."""
    return Item(
        id=device.service_tag,
        title=device.service_tag,
        subtitle=device.product,
        status=view.status(turn, device.warranty_status),
        fields=view.fields(
            turn,
            plan=i18n.plan(device.warranty_plan, turn.language),
            warranty_end=turn.day(device.warranty_end),
            days_left=days_left(device.days_left, turn.language),
        ),
    )


# A list narrowed to warranties that end soon looks this far ahead unless told otherwise
# (the services call a contract "expiring" within the same 90 days).
DEFAULT_WINDOW_DAYS = 90
# Filter -> (list response, response when no device matches).
FILTER_RESPONSES = {
    "expiring": ("utter_devices_expiring", "utter_no_devices_expiring"),
    "expired": ("utter_devices_expired", "utter_no_devices_expired"),
    "active": ("utter_devices_active", "utter_no_devices_active"),
}


@dataclass(frozen=True)
class DeviceFilter:
    """Which devices a list keeps, by warranty: ending within `days`, expired, or active."""

    status: str
    days: int = DEFAULT_WINDOW_DAYS

    @classmethod
    def asked(cls, turn: Turn) -> Optional[DeviceFilter]:
        """The filter the message asks for; None for the whole list.

        A window alone ("warranties ending in the next 60 days") means expiring within it.
        """
        status = next(
            (
                str(v)
                for v in turn.tracker.get_latest_entity_values("device_filter")
                if str(v) in FILTER_RESPONSES
            ),
            None,
        )
        window = next(
            (
                days
                for v in turn.tracker.get_latest_entity_values("duration")
                if (days := i18n.span_days(str(v)))
            ),
            None,
        )
        if status is None and window is None:
            return None
        return cls(status or "expiring", window or DEFAULT_WINDOW_DAYS)

    def keeps(self, device: schemas.DeviceOut) -> bool:
        if self.status == "expired":
            return device.days_left < 0
        if self.status == "active":
            return device.days_left >= 0
        return 0 <= device.days_left <= self.days


class ActionListDevices(ListAction):
    capability = "list_devices"
    response, empty_response, lines_field = "utter_devices", "utter_no_devices", "devices"
    kind = "devices"

    def name(self) -> str:
        return "action_list_devices"

    async def fetch(self, turn: Turn) -> List[schemas.DeviceOut]:
        return await turn.session.devices()

    def line(self, turn: Turn, item: schemas.DeviceOut) -> str:
        return device_line(turn, item)

    def item(self, turn: Turn, item: schemas.DeviceOut) -> Item:
        return device_item(turn, item)

    async def act(self, turn: Turn) -> None:
        wanted = DeviceFilter.asked(turn)
        if wanted is None:
            await super().act(turn)
            return
        devices = [d for d in await self.fetch(turn) if wanted.keeps(d)]
        response, empty_response = FILTER_RESPONSES[wanted.status]
        values = {"account": turn.account.name, "days": wanted.days}
        if not devices:
            turn.say(empty_response, **values)
            return
        data = ListData(self.kind, turn.account.name, [self.item(turn, d) for d in devices])
        lines = "\n".join(self.line(turn, d) for d in devices)
        turn.show(response, data, count=len(devices), devices=lines, **values)


class ActionCheckWarranty(AccountAction):
    """Warranty of the device whose tag was given (any case, spaces or dashes)."""

    capability = "check_warranty"

    def name(self) -> str:
        return "action_check_warranty"

    async def act(self, turn: Turn) -> None:
        given = list(turn.tracker.get_latest_entity_values("service_tag"))
        if not given:
            turn.say("utter_ask_warranty_service_tag")
            return
        tags = service_tags_in(given[0])
        if not tags:
            turn.say("utter_invalid_service_tag", tag=given[0])
            return
        device = await turn.session.device(tags[0])
        values: Dict[str, Any] = {
            "tag": device.service_tag,
            "product": device.product,
            "plan": i18n.plan(device.warranty_plan, turn.language),
            "end": turn.day(device.warranty_end),
            "days": days_left(device.days_left, turn.language),
        }
        card = CardData("device", device_item(turn, device))
        if device.warranty_status == "active":
            turn.show("utter_warranty_active", card, **values)
        else:
            turn.show("utter_warranty_expired", card, **values)
