"""The App Home tab: the person's account and role, the accounts they can ask about, and
what they can ask here - read from the services (`/me`), so it shows what is true now.

Someone with several accounts (the vendor's account team) also gets a button per account:
picking one switches the conversation of their DM with the app to it, exactly as saying
"switch to ..." there would (the button sends the intent with the account as its entity,
so no sentence is made up here), and the answer arrives in the DM.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Dict, List

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from actions import i18n
from bot.client.errors import AccountServicesError
from bot.policy import load_table
from bot.slack.blocks import escape
from bot.slack.conversation import Place, converse
from bot.slack.people import NotLinked
from bot.slack.tools import Tools

log = logging.getLogger(__name__)
MAX_EXAMPLES = 8
MAX_ACCOUNT_BUTTONS = 5
PICK_ACTION_PREFIX = "premier_account_"
PICK_ACTION = re.compile(rf"^{PICK_ACTION_PREFIX}\d+$")
Block = Dict[str, Any]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def home_view(tools: Tools, team: str, user: str) -> Dict[str, Any]:
    """The Home tab of `user` of workspace `team`, in their language."""
    texts = tools.texts
    try:
        person = await tools.people.find(team, user)
        me = await tools.services.as_user(person.token, user_id=person.user_id).me()
    except NotLinked:
        linking = texts.say("not_linked", "en", team=team, user=user)
        return {"type": "home", "blocks": [_section(linking)]}
    except AccountServicesError:
        log.exception("the App Home could not be read from the services")
        return {"type": "home", "blocks": [_section(texts.say("unavailable", "en"))]}
    language = me.language
    role = i18n.role(me.role, language)
    title = texts.say("home_title", language)
    blocks: List[Block] = [{"type": "header", "text": {"type": "plain_text", "text": title}}]
    if me.account is not None:
        who = texts.say(
            "home_who",
            language,
            name=escape(me.name),
            role=role,
            account=escape(me.account.name),
            type=i18n.account_type(me.account.type, language),
            country=i18n.country(me.account.country, language),
        )
    else:
        who = texts.say("home_no_account", language, name=escape(me.name), role=role)
    blocks.append(_section(who))
    if len(me.accounts) > 1:
        names = [escape(a.name) for a in me.accounts]
        others = [a for a in names if me.account is None or a != escape(me.account.name)]
        blocks.append(
            _section(
                texts.say(
                    "home_accounts",
                    language,
                    accounts=", ".join(f"*{n}*" for n in names),
                    example=(others or names)[0],
                )
            )
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": "premier_accounts",
                "elements": [
                    {
                        "type": "button",
                        "action_id": f"{PICK_ACTION_PREFIX}{index}",
                        "text": {"type": "plain_text", "text": account.name[:75]},
                        "value": account.name[:2000],
                    }
                    for index, account in enumerate(me.accounts[:MAX_ACCOUNT_BUTTONS])
                ],
            }
        )
    table = load_table()
    # Read-only: accounts to read and nothing to change in them (the vendor's account team).
    if me.accounts and not any(table.capability(c).write for c in me.capabilities if c in table):
        blocks.append(_section(texts.say("home_read_only", language)))
    allowed = set(me.capabilities)
    examples = [
        texts.example(capability, language)
        for capability in texts.example_capabilities
        if capability in allowed
    ][:MAX_EXAMPLES]
    blocks.append({"type": "divider"})
    blocks.append(_section(texts.say("home_ask", language)))
    blocks.append(_section("\n".join(f"• {escape(str(e))}" for e in examples)))
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": texts.say("home_private", language)}],
        }
    )
    return {"type": "home", "blocks": blocks}


def register(app: AsyncApp, tools: Tools) -> None:
    @app.event("app_home_opened")
    async def opened(event: Dict[str, Any], body: Dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab") != "home" or not event.get("user"):
            return
        team = str(event.get("team") or body.get("team_id") or "")
        view = await home_view(tools, team, str(event["user"]))
        await client.views_publish(user_id=str(event["user"]), view=view)

    @app.action(PICK_ACTION)
    async def pick_account(
        ack: AsyncAck, body: Dict[str, Any], action: Dict[str, Any], client: AsyncWebClient
    ) -> None:
        """An account picked on the Home tab: the DM's conversation switches to it."""
        await ack()
        user = body.get("user") or {}
        if not user.get("id"):
            return
        team = str(user.get("team_id") or (body.get("team") or {}).get("id", ""))
        opened = await client.conversations_open(users=str(user["id"]))
        place = Place(team, str(user["id"]), str(opened["channel"]["id"]), "im")
        payload = "/switch_account" + json.dumps({"account_name": str(action.get("value", ""))})
        await converse(client, tools, place, payload)
