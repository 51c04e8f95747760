"""What every account action needs: who is asking, may they, and errors as responses.

A concrete action names its capability (a row of the permission table) and
implements `act()`: read slots, call one method of the typed client, map the
result to responses. The base class does the rest, in this order:
  1. identity: the token from the latest message (none -> ask to sign in);
  2. the active account: the `active_account` slot (after a switch) wins over
     the token's own account, through the services' switch endpoint;
  3. the permission table decides; a denial is explained by the rule that
     failed and nothing is fetched;
  4. client errors become their own responses (expired session, not found,
     unavailable, conflict, invalid input) - never raw backend text.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n
from actions.services import account_services
from bot.client import AccountSession, errors
from bot.policy import Decision, Subject, load_table
from bot.services import schemas

log = logging.getLogger(__name__)


def message_token(tracker: Tracker) -> Optional[str]:
    """The verified bearer token the channel attached to the latest message."""
    metadata = tracker.latest_message.get("metadata") or {}
    token = metadata.get("token")
    return token if isinstance(token, str) and token else None


def language_of(tracker: Tracker) -> str:
    value = tracker.get_slot("language")
    return value if value in i18n.LANGUAGES else "en"


def subject_of(me: schemas.Me) -> Subject:
    """The permission-table view of the person, exactly as the services see them."""
    account = me.account
    return Subject(
        role=me.role,
        user_flags=frozenset(me.flags),
        account_type=account.type if account else None,
        country=account.country if account else None,
        account_settings=frozenset(
            {"billing_report_enabled"} if account and account.billing_report_enabled else ()
        ),
        authenticated=True,
    )


@dataclass
class Turn:
    """One action's view of the conversation: the caller, their session, their language."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    session: AccountSession
    me: schemas.Me
    language: str
    events: List[EventType]

    @property
    def account(self) -> schemas.AccountOut:
        assert self.me.account is not None, "account actions only run with an account"
        return self.me.account

    def say(self, response: str, **values: Any) -> None:
        self.dispatcher.utter_message(response=response, **values)

    def money(self, amount: schemas.Money) -> str:
        return i18n.money(amount, self.language)

    def day(self, value: Any) -> str:
        return i18n.day(value, self.language)

    def slot(self, name: str) -> Any:
        return self.tracker.get_slot(name)


def explain_denial(
    dispatcher: CollectingDispatcher,
    decision: Decision,
    me: Optional[schemas.Me],
    contacts: Optional[List[Dict[str, str]]],
    language: str,
) -> None:
    """One sentence naming the rule that failed and who can help."""
    reason = decision.reason.value if decision.reason else "role"
    account = me.account if me else None
    helpers = contacts if contacts is not None else []
    dispatcher.utter_message(
        response=f"utter_denied_{reason}",
        role=i18n.role(me.role if me else None, language),
        account=account.name if account else "",
        account_type=account.type if account else "",
        country=i18n.country(account.country if account else "", language),
        admins=i18n.people(helpers, language),
    )


class AccountAction(Action, abc.ABC):
    """Base of every action that reads or changes account data."""

    capability: str = ""

    @abc.abstractmethod
    def name(self) -> str: ...

    def capability_for(self, tracker: Tracker) -> str:
        """The permission-table row this run needs (fixed for most actions)."""
        return self.capability

    @abc.abstractmethod
    async def act(self, turn: Turn) -> None:
        """Do the work; append events to `turn.events`."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = language_of(tracker)
        token = message_token(tracker)
        if token is None:
            dispatcher.utter_message(response="utter_sign_in_required")
            return []
        services = account_services()
        events: List[EventType] = []
        me: Optional[schemas.Me] = None
        try:
            session = services.as_user(token)
            me = await session.me()
            session, me = await self._active_account(session, me, tracker, events)
            capability = self.capability_for(tracker)
            decision = load_table().decide(capability, subject_of(me))
            if not decision.allowed:
                explain_denial(dispatcher, decision, me, me.site_admins, language)
                return events
            turn = Turn(dispatcher, tracker, session, me, language, events)
            await self.act(turn)
        except errors.SessionExpired:
            dispatcher.utter_message(response="utter_session_expired")
        except errors.Unauthorized:
            dispatcher.utter_message(response="utter_sign_in_required")
        except errors.Forbidden as denied:
            # The services refused although the table allowed: explain their reason.
            from bot.policy import Reason

            decision = Decision(denied.capability, False, Reason(denied.reason), ())
            explain_denial(dispatcher, decision, me, denied.contacts, language)
        except errors.NotFound as missing:
            dispatcher.utter_message(
                response="utter_not_found",
                what=i18n.thing(missing.what, language),
                id=str(missing.details.get("id", "")),
            )
        except errors.Conflict as conflict:
            # Each known reason has its own sentence; the services' English text is never shown.
            specific = f"utter_conflict_{conflict.reason}"
            known = specific in (domain.get("responses") or {})
            dispatcher.utter_message(response=specific if known else "utter_conflict")
        except errors.InvalidRequest:
            dispatcher.utter_message(response="utter_invalid_input")
        except errors.Unavailable:
            log.exception("account services unavailable in %s", self.name())
            dispatcher.utter_message(response="utter_services_unavailable")
        return events

    async def _active_account(
        self,
        session: AccountSession,
        me: schemas.Me,
        tracker: Tracker,
        events: List[EventType],
    ) -> tuple[AccountSession, schemas.Me]:
        """Follow a conversational account switch made earlier in this conversation."""
        wanted = tracker.get_slot("active_account")
        if not wanted or (me.account and me.account.name == wanted):
            return session, me
        if wanted not in {a.name for a in me.accounts}:
            events.append(SlotSet("active_account", None))
            return session, me
        switched = await session.switch_account(wanted)
        session = account_services().as_user(switched.token)
        return session, await session.me()


class ListAction(AccountAction, abc.ABC):
    """A read-only list of the account's things: "none" or a count and a bullet line each.

    Both responses get the account's name (and `values()`); the list response
    also gets `count` and the bullet lines under `lines_field`. Most reads of
    the portal have this shape, so a concrete list only says where its items
    come from and how one is written.
    """

    response: str = ""
    empty_response: str = ""
    lines_field: str = ""

    @abc.abstractmethod
    async def fetch(self, turn: Turn) -> Sequence[Any]:
        """The items, in the order they are shown."""

    @abc.abstractmethod
    def line(self, turn: Turn, item: Any) -> str:
        """One item as a bullet line in the person's language."""

    def values(self, turn: Turn) -> Dict[str, Any]:
        """Further values both responses need (e.g. the period of a list)."""
        return {}

    async def act(self, turn: Turn) -> None:
        items = await self.fetch(turn)
        values = {"account": turn.account.name, **self.values(turn)}
        if not items:
            turn.say(self.empty_response, **values)
            return
        lines = "\n".join(self.line(turn, item) for item in items)
        turn.say(self.response, count=len(items), **{self.lines_field: lines}, **values)
