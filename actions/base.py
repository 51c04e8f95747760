"""What every account action needs: who is asking, may they, and errors as responses.

A concrete action names its capability (a row of the permission table) and
implements `act()`: read slots, call one method of the typed client, map the
result to responses. The base class does the rest, in this order:
  1. identity: the turn's token from the message metadata (`bot.chat.metadata`),
     verified here with the services' public key (none -> ask to sign in);
  2. the account it acts in (`account_in_effect`): the page's account (the
     token's) whenever a session starts or the page changes account; a switch
     made in the chat (`active_account`) until then; an account named in the
     request (and the person's) for that request only, said in the reply;
  3. the permission table decides; a denial is explained by the rule that
     failed and nothing is fetched;
  4. client errors become their own responses (expired session, not found,
     unavailable, conflict, invalid input) - never raw backend text.
A turn costs one call to the services: `/me` is cached briefly by the client,
and the account is chosen per request (a header), not by minting a new token.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n, view
from actions.services import account_services, token_verifier
from bot.accounts import choose_account
from bot.chat import identity as chat_identity
from bot.chat import replies
from bot.chat.metadata import ChatMetadata
from bot.chat.replies import CardData, ConfirmationData, ListData
from bot.client import AccountSession, errors
from bot.policy import Decision, Subject, load_table
from bot.services import schemas

Data = Union[ListData, CardData, ConfirmationData]

log = logging.getLogger(__name__)


def say_services_unavailable(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """ "Can't reach your account", with a button that sends the same message again."""
    dispatcher.utter_message(
        response="utter_services_unavailable", retry=tracker.latest_message.get("text") or "/help"
    )


def turn_metadata(tracker: Tracker) -> Optional[ChatMetadata]:
    """The metadata contract of the latest message (None: not from a chat channel)."""
    return ChatMetadata.of(tracker.latest_message or {})


def message_token(tracker: Tracker) -> Optional[str]:
    """The turn's token the channel attached to the latest message (never stored)."""
    metadata = turn_metadata(tracker)
    return metadata.credential if metadata else None


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

    def show(self, response: str, data: Optional[Data], **values: Any) -> None:
        """Send a domain response with what it shows as data, for channels that render it.

        A list goes as a table with its headers in the person's language (`view.table`).
        """
        if isinstance(data, ListData):
            data = view.table(self, data)
        json_message = data.as_json() if data is not None else None
        self.dispatcher.utter_message(response=response, json_message=json_message, **values)

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
        account_type=i18n.account_type(account.type if account else "", language),
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

    # Changes and forms run in the conversation's account only: an account named in passing
    # applies to reads; to change something elsewhere the person switches first.
    named_account_allowed: bool = True

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = language_of(tracker)
        metadata = turn_metadata(tracker)
        token = metadata.credential if metadata else None
        if metadata is None or token is None:
            dispatcher.utter_message(response="utter_sign_in_required")
            return []
        try:
            person = token_verifier().from_token(token, metadata.channel)
        except chat_identity.SessionExpired:
            dispatcher.utter_message(response="utter_session_expired")
            return []
        except (chat_identity.InvalidCredential, ValueError):  # ValueError: unknown channel
            dispatcher.utter_message(response="utter_sign_in_required")
            return []
        events: List[EventType] = []
        me: Optional[schemas.Me] = None
        try:
            session, me = await self.account_in_effect(dispatcher, tracker, person, events)
            if session is None or me is None:
                return events
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
            say_services_unavailable(dispatcher, tracker)
        return events

    async def account_in_effect(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        person: chat_identity.ChatIdentity,
        events: List[EventType],
    ) -> Tuple[Optional[AccountSession], Optional[schemas.Me]]:
        """The session and `/me` for the account this request acts in (None: already answered).

        The page's account (the token's) is authoritative when a session starts or
        the page changes account: then a switch made earlier in the chat is
        forgotten. Otherwise a switch made in the chat holds. An account named in
        the request, if it is one of the person's, is used for this request only.
        """
        page = person.account_id
        chosen = tracker.get_slot("active_account")
        if tracker.get_slot("page_account") != page:
            events.extend([SlotSet("page_account", page), SlotSet("active_account", None)])
            chosen = None
        base = account_services().as_user(
            person.credential, user_id=person.user_id, channel=person.channel
        )
        session = base.in_account(chosen if isinstance(chosen, int) else page)
        try:
            me = await session.me()
        except errors.NotFound:
            # The account switched to in the chat is no longer theirs: back to the page's.
            events.append(SlotSet("active_account", None))
            session = base.in_account(page)
            me = await session.me()
        named = self.named_account(tracker)
        if named is None or me.account is None:
            return session, me
        target = choose_account(named, me.accounts, name=lambda a: a.name)
        if target is None:
            dispatcher.utter_message(
                response="utter_account_not_yours",
                account=named,
                accounts=", ".join(a.name for a in me.accounts) or "—",
            )
            return None, None
        if target.id == me.account.id:
            return session, me
        if not self.named_account_allowed:
            dispatcher.utter_message(response="utter_switch_first", account=target.name)
            return None, None
        session = base.in_account(target.id)
        me = await session.me()
        dispatcher.utter_message(response="utter_answering_for_account", account=target.name)
        return session, me

    def named_account(self, tracker: Tracker) -> Optional[str]:
        """An account the latest message names for this request (not a switch)."""
        value = next(iter(tracker.get_latest_entity_values("account_name")), None)
        return value if isinstance(value, str) and value.strip() else None


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
    # The `kind` of the structured list the channels render (bot.chat.replies).
    kind: str = ""

    @abc.abstractmethod
    async def fetch(self, turn: Turn) -> Sequence[Any]:
        """The items, in the order they are shown."""

    @abc.abstractmethod
    def line(self, turn: Turn, item: Any) -> str:
        """One item as a bullet line in the person's language."""

    def values(self, turn: Turn) -> Dict[str, Any]:
        """Further values both responses need (e.g. the period of a list)."""
        return {}

    def item(self, turn: Turn, item: Any) -> Optional[replies.Item]:
        """One item as structured data (None: this list sends text only)."""
        return None

    async def act(self, turn: Turn) -> None:
        items = await self.fetch(turn)
        values = {"account": turn.account.name, **self.values(turn)}
        if not items:
            turn.say(self.empty_response, **values)
            return
        lines = "\n".join(self.line(turn, item) for item in items)
        shown = [self.item(turn, item) for item in items]
        data = (
            ListData(self.kind, turn.account.name, [i for i in shown if i is not None])
            if self.kind and all(i is not None for i in shown)
            else None
        )
        turn.show(self.response, data, count=len(items), **{self.lines_field: lines}, **values)
