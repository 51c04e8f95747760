"""Account information and switching between a person's accounts."""

from __future__ import annotations

from typing import Optional

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions import i18n, view
from actions.base import AccountAction, Turn
from bot.accounts import choose_account
from bot.chat.replies import CardData, Item


class ActionAccountInfo(AccountAction):
    capability = "account_info"

    def name(self) -> str:
        return "action_account_info"

    async def act(self, turn: Turn) -> None:
        others = [a.name for a in turn.me.accounts if a.id != turn.account.id]
        values = {
            "customer_number": turn.account.customer_number,
            "account_type": i18n.account_type(turn.account.type, turn.language),
            "country": i18n.country(turn.account.country, turn.language),
            "role": i18n.role(turn.me.role, turn.language),
            "access_group": turn.me.access_group or i18n.missing("none", turn.language),
        }
        card = Item(
            id=turn.account.customer_number,
            title=turn.account.name,
            fields=view.fields(turn, **values, other_accounts=", ".join(others)),
        )
        turn.show(
            "utter_account_info", CardData("account", card), account=turn.account.name, **values
        )
        if others:
            turn.say("utter_other_accounts", accounts=", ".join(others))


class ActionSwitchAccount(AccountAction):
    """Make another of the person's accounts the active one for the rest of the chat.

    The switch is conversation state (`active_account`, an account id) and holds
    until the page changes account. The services' switch endpoint is called once,
    here, to check the membership and audit the switch; later turns name the
    account per request instead of minting tokens.
    """

    capability = "switch_account"

    def name(self) -> str:
        return "action_switch_account"

    def named_account(self, tracker: Tracker) -> Optional[str]:
        return None  # the account named here is where to go, handled by act()

    async def act(self, turn: Turn) -> None:
        requested = next(iter(turn.tracker.get_latest_entity_values("account_name")), None)
        others = [a for a in turn.me.accounts if a.id != turn.account.id]
        if requested is None and len(others) == 1:
            requested = others[0].name
        target = (
            choose_account(requested, turn.me.accounts, name=lambda a: a.name)
            if requested
            else None
        )
        if target is None:
            if not others:
                turn.say("utter_only_one_account", account=turn.account.name)
            else:
                turn.say("utter_which_account", accounts=", ".join(a.name for a in others))
            return
        if target.id == turn.account.id:
            turn.say("utter_already_in_account", account=target.name)
            return
        switched = await turn.session.switch_account(target.name)
        if turn.slot("pending_change"):
            # A change waiting for "yes" was shown for the account being left.
            turn.events.append(SlotSet("pending_change", None))
            turn.say("utter_pending_change_dropped")
        turn.events.append(SlotSet("active_account", switched.account.id))
        turn.say(
            "utter_switched_account",
            account=switched.account.name,
            role=i18n.role(switched.role, turn.language),
        )
