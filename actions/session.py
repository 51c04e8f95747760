"""Session start (reply language from the profile), help, and public support contacts."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import i18n
from actions.base import (
    AccountAction,
    Turn,
    language_of,
    message_token,
    say_services_unavailable,
)
from actions.services import account_services
from bot.chat.metadata import ChatMetadata
from bot.client import errors
from bot.nlu.places import places
from bot.services.schemas import REGIONS

LABELS_PATH = Path(__file__).with_name("capability_labels.yml")


@cache
def capability_labels() -> Dict[str, Dict[str, str]]:
    with open(LABELS_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class ActionSessionStart(Action):
    """Start a session on the page's account, in the person's profile language.

    Nothing of an earlier session carries over: the account is the one the page
    (the token) is in, and the language the person's profile (carried in the
    token); both come from the message metadata, so starting costs no call.
    """

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        # A session that expired carries the new message's metadata in a slot; a session a
        # channel asks for ("/session_start") carries it on the message itself.
        metadata = ChatMetadata.of(
            {"metadata": tracker.get_slot("session_started_metadata")}
        ) or ChatMetadata.of(tracker.latest_message or {})
        if metadata is not None:
            if metadata.language in i18n.LANGUAGES:
                events.append(SlotSet("language", metadata.language))
            events.append(SlotSet("page_account", metadata.account_id))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionHelp(AccountAction):
    """What this person may do here (from the permission table), or the public offer.

    Runs as an account action so that, after a switch, it lists what the person
    may do in the account they are now working in.
    """

    capability = "help"

    def name(self) -> str:
        return "action_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if message_token(tracker) is None:
            dispatcher.utter_message(response="utter_help_anonymous")
            return []
        return await super().run(dispatcher, tracker, domain)

    async def act(self, turn: Turn) -> None:
        labels = capability_labels().get(turn.language, capability_labels()["en"])
        items = [f"• {labels[c]}" for c in turn.me.capabilities if c in labels]
        turn.say(
            "utter_help",
            account=turn.me.account.name if turn.me.account else "",
            role=i18n.role(turn.me.role, turn.language),
            items="\n".join(items),
        )


class ActionSupportContact(Action):
    """Regional Premier support contacts; works without signing in."""

    def name(self) -> str:
        return "action_support_contact"

    @staticmethod
    def requested_region(tracker: Tracker) -> Optional[str]:
        """The support region asked for: the region entity ("EMEA", "Europe", "Singapore") or
        else a place in the message ("Corea" -> APJ); None for every region."""
        known = places()
        for value in tracker.get_latest_entity_values("region"):
            region = known.region_of(str(value))
            if region in REGIONS:
                return region
        found = known.find(tracker.latest_message.get("text") or "")
        return found[0].region if found and found[0].region in REGIONS else None

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        region = self.requested_region(tracker)
        try:
            contacts = await account_services().support_contacts(region)
        except errors.AccountServicesError:
            say_services_unavailable(dispatcher, tracker)
            return []
        language = language_of(tracker)
        lines = [
            f"• {i18n.region(c.region, language)}: {c.phone} · {c.email} · "
            f"{i18n.hours(c.hours, language)}"
            for c in contacts
        ]
        dispatcher.utter_message(response="utter_support_contacts", contacts="\n".join(lines))
        return []
