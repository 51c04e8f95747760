"""Account information and switching between a person's accounts."""

from __future__ import annotations

from typing import Dict, Optional

from rasa_sdk.events import SlotSet

from actions import i18n
from actions.base import AccountAction, Turn


class ActionAccountInfo(AccountAction):
    capability = "account_info"

    def name(self) -> str:
        return "action_account_info"

    async def act(self, turn: Turn) -> None:
        others = [a.name for a in turn.me.accounts if a.name != turn.account.name]
        turn.say(
            "utter_account_info",
            account=turn.account.name,
            customer_number=turn.account.customer_number,
            account_type=turn.account.type,
            country=i18n.country(turn.account.country, turn.language),
            role=i18n.role(turn.me.role, turn.language),
            access_group=turn.me.access_group or "—",
        )
        if others:
            turn.say("utter_other_accounts", accounts=", ".join(others))


def _match(name: str, options: Dict[str, str]) -> Optional[str]:
    wanted = name.casefold().strip()
    exact = [v for k, v in options.items() if k == wanted]
    prefix = [v for k, v in options.items() if k.startswith(wanted)]
    found = exact or prefix
    return found[0] if len(found) == 1 else None


class ActionSwitchAccount(AccountAction):
    """Make another of the person's accounts the active one for the rest of the chat."""

    capability = "switch_account"

    def name(self) -> str:
        return "action_switch_account"

    async def act(self, turn: Turn) -> None:
        options = {a.name.casefold(): a.name for a in turn.me.accounts}
        requested = next(iter(turn.tracker.get_latest_entity_values("account_name")), None)
        others = [a.name for a in turn.me.accounts if a.name != turn.account.name]
        if requested is None and len(others) == 1:
            requested = others[0]
        target = _match(requested, options) if requested else None
        if target is None:
            if not others:
                turn.say("utter_only_one_account", account=turn.account.name)
            else:
                turn.say("utter_which_account", accounts=", ".join(others))
            return
        if target == turn.account.name:
            turn.say("utter_already_in_account", account=target)
            return
        switched = await turn.session.switch_account(target)
        turn.events.append(SlotSet("active_account", switched.account.name))
        turn.say(
            "utter_switched_account",
            account=switched.account.name,
            role=i18n.role(switched.role, turn.language),
        )
