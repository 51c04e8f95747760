"""Users of the account (site admins only): list, invite, change role, deactivate; request SSO.

People are named by email; the account's user list maps an email to the user
id the services need, and an email that is not a user of this account is "not
found". Every change is a form, a summary and a "yes" (see `actions.changes`).
The services decide what may not be done (e.g. changing your own role) and say
so with a Conflict.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from actions import i18n, view
from actions.base import AccountAction, Turn
from actions.changes import propose, register
from actions.forms import AccountFormValidation, FormSubmission, LeaveForm, plain_text
from bot.chat.replies import ConfirmationData, Item, ListData
from bot.services import schemas

USER_SLOTS: Tuple[str, ...] = ("user_email", "user_role")
_EMAIL = re.compile(schemas.EMAIL)
# What people call each role (accents removed); the NLU's synonyms cover most of it.
_ROLE_WORDS: Dict[str, tuple] = {
    "site_admin": (
        "site admin",
        "site administrator",
        "admin",
        "administrator",
        "administrador",
        "administradora",
        "administrador del sitio",
        "admin del sitio",
    ),
    "buyer": ("buyer", "comprador", "compradora"),
    "shopper": ("shopper",),
}
# Identity providers people mention when asking for SSO, by a word that names them.
IDENTITY_PROVIDERS = {
    "okta": "Okta",
    "entra": "Microsoft Entra ID",
    "azure": "Microsoft Entra ID",
    "google": "Google Workspace",
    "ping": "Ping Identity",
    "onelogin": "OneLogin",
    "adfs": "Active Directory (AD FS)",
    "active directory": "Active Directory (AD FS)",
}
UNNAMED_PROVIDER = "not named yet"


def normalize_email(value: Any) -> Optional[str]:
    email = str(value or "").strip().strip("<>.,;").lower()
    return email if _EMAIL.match(email) else None


def normalize_role(value: Any) -> Optional[str]:
    """'Site Admin' / 'administrador' / 'buyer' -> the role; None if it is not a customer role."""
    wanted = " ".join(plain_text(str(value or "")).replace("_", " ").split())
    for role, words in _ROLE_WORDS.items():
        if wanted == role.replace("_", " ") or wanted in words:
            return role
    return None


def identity_provider(text: str) -> Optional[str]:
    plain = plain_text(text)
    return next(
        (name for word, name in IDENTITY_PROVIDERS.items() if re.search(rf"\b{word}\b", plain)),
        None,
    )


async def account_user(turn: Turn, email: str) -> Optional[schemas.UserOut]:
    """The user of the active account with this email, if there is one."""
    users = await turn.session.users()
    return next((u for u in users if u.email.lower() == email.lower()), None)


def user_line(turn: Turn, user: schemas.UserOut) -> str:
    line = f"• {user.name} ({user.email}) · {i18n.role(user.role, turn.language)}"
    if user.status != "active":
        line += f" · {i18n.status(user.status, turn.language)}"
    return line


def user_item(turn: Turn, user: schemas.UserOut) -> Item:
    """A user as data: name, email and role; a status only when not active (as in the text)."""
    return Item(
        id=user.email,
        title=user.name,
        status=view.status(turn, user.status) if user.status != "active" else None,
        fields=view.fields(turn, email=user.email, role=i18n.role(user.role, turn.language)),
    )


def not_a_user(turn: Turn, email: str) -> None:
    turn.say("utter_not_found", what=i18n.thing("user", turn.language), id=email)


# --- list --------------------------------------------------------------------------------


class ActionListUsers(AccountAction):
    """The account's users, or only those with a named role."""

    capability = "list_users"

    def name(self) -> str:
        return "action_list_users"

    async def act(self, turn: Turn) -> None:
        users = await turn.session.users()
        role = normalize_role(next(iter(turn.tracker.get_latest_entity_values("role")), ""))
        if role:
            users = [u for u in users if u.role == role]
        if not users:
            turn.say(
                "utter_no_users_with_role",
                account=turn.account.name,
                role=i18n.role(role, turn.language),
            )
            return
        turn.show(
            "utter_users",
            ListData("users", turn.account.name, [user_item(turn, u) for u in users]),
            account=turn.account.name,
            count=len(users),
            users="\n".join(user_line(turn, u) for u in users),
        )


# --- invite ------------------------------------------------------------------------------


class UserFormValidation(AccountFormValidation):
    """Checks shared by the users forms."""

    form_slots = USER_SLOTS

    async def check_user_role(self, value: Any, turn: Turn) -> Optional[str]:
        role = normalize_role(value)
        if role is None:
            turn.say("utter_invalid_role", value=str(value or ""))
        return role

    async def check_user_email(self, value: Any, turn: Turn) -> Optional[str]:
        """An email of a user of this account (the invitation form overrides this)."""
        email = normalize_email(value)
        if email is None:
            turn.say("utter_invalid_email", value=str(value or ""))
            return None
        if await account_user(turn, email) is None:
            not_a_user(turn, email)
            return None
        return email


class ValidateInviteUserForm(UserFormValidation):
    capability = "invite_user"

    def name(self) -> str:
        return "validate_invite_user_form"

    async def check_user_email(self, value: Any, turn: Turn) -> Optional[str]:
        email = normalize_email(value)
        if email is None:
            turn.say("utter_invalid_email", value=str(value or ""))
        return email


class ActionInviteUser(FormSubmission):
    capability = "invite_user"
    form_slots = USER_SLOTS

    def name(self) -> str:
        return "action_invite_user"

    async def act(self, turn: Turn) -> None:
        email, role = self.answers(turn)
        summary = ConfirmationData(
            "invite_user",
            email,
            view.fields(
                turn,
                email=email,
                role=i18n.role(role, turn.language),
                account=turn.account.name,
            ),
        )
        turn.show(
            "utter_invite_summary",
            summary,
            email=email,
            role=i18n.role(role, turn.language),
            account=turn.account.name,
        )
        propose(turn, "invite_user", {"email": email, "role": role})


@register("invite_user", capability="invite_user")
async def invite_user(turn: Turn, params: Dict[str, Any], key: str) -> None:
    invited = await turn.session.invite_user(params["email"], params["role"], idempotency_key=key)
    turn.say(
        "utter_user_invited",
        email=invited.email,
        role=i18n.role(invited.role, turn.language),
        account=turn.account.name,
    )


# --- change role -------------------------------------------------------------------------


class ValidateChangeUserRoleForm(UserFormValidation):
    capability = "change_user_role"

    def name(self) -> str:
        return "validate_change_user_role_form"


class ActionChangeUserRole(FormSubmission):
    capability = "change_user_role"
    form_slots = USER_SLOTS

    def name(self) -> str:
        return "action_change_user_role"

    async def act(self, turn: Turn) -> None:
        email, role = self.answers(turn)
        user = await account_user(turn, email)
        if user is None:
            not_a_user(turn, email)
            return
        values = {
            "name": user.name,
            "email": user.email,
            "role": i18n.role(role, turn.language),
            "current_role": i18n.role(user.role, turn.language),
        }
        if user.role == role:
            turn.say("utter_user_already_has_role", **values)
            return
        summary = ConfirmationData(
            "change_user_role",
            user.name,
            view.fields(
                turn,
                name=user.name,
                email=user.email,
                current_role=values["current_role"],
                new_role=values["role"],
            ),
        )
        turn.show("utter_change_role_summary", summary, **values)
        propose(turn, "change_user_role", {"user_id": user.id, "email": user.email, "role": role})


@register("change_user_role", capability="change_user_role")
async def change_user_role(turn: Turn, params: Dict[str, Any], key: str) -> None:
    changed = await turn.session.change_user_role(
        params["user_id"], params["role"], idempotency_key=key
    )
    turn.say(
        "utter_user_role_changed",
        name=changed.name,
        email=changed.email,
        role=i18n.role(changed.role, turn.language),
    )


# --- deactivate --------------------------------------------------------------------------


class ValidateDeactivateUserForm(UserFormValidation):
    capability = "deactivate_user"
    form_slots = ("user_email",)

    def name(self) -> str:
        return "validate_deactivate_user_form"


class ActionDeactivateUser(FormSubmission):
    capability = "deactivate_user"
    form_slots = ("user_email",)

    def name(self) -> str:
        return "action_deactivate_user"

    async def act(self, turn: Turn) -> None:
        (email,) = self.answers(turn)
        user = await account_user(turn, email)
        if user is None:
            not_a_user(turn, email)
            return
        summary = ConfirmationData(
            "deactivate_user",
            user.name,
            view.fields(
                turn,
                name=user.name,
                email=user.email,
                role=i18n.role(user.role, turn.language),
                account=turn.account.name,
            ),
        )
        turn.show(
            "utter_deactivate_summary",
            summary,
            name=user.name,
            email=user.email,
            role=i18n.role(user.role, turn.language),
            account=turn.account.name,
        )
        propose(turn, "deactivate_user", {"user_id": user.id, "email": user.email})


@register("deactivate_user", capability="deactivate_user")
async def deactivate_user(turn: Turn, params: Dict[str, Any], key: str) -> None:
    done = await turn.session.deactivate_user(params["user_id"], idempotency_key=key)
    turn.say("utter_user_deactivated", name=done.name, email=done.email)


class ActionLeaveUserForm(LeaveForm):
    """Cancel inside any of the users forms (they share their slots)."""

    form_slots = USER_SLOTS

    def name(self) -> str:
        return "action_leave_user_form"


# --- single sign-on ----------------------------------------------------------------------


def team_names(turn: Turn, team: List[schemas.TeamContactOut]) -> str:
    return i18n.people([{"name": c.name, "email": c.email} for c in team], turn.language)


class ActionRequestSso(AccountAction):
    """SSO is set up by the account team: name them and offer to file the request."""

    capability = "request_sso"

    def name(self) -> str:
        return "action_request_sso"

    async def act(self, turn: Turn) -> None:
        team = await turn.session.account_team()
        provider = identity_provider(turn.tracker.latest_message.get("text") or "")
        summary = ConfirmationData(
            "request_sso",
            turn.account.name,
            view.fields(
                turn,
                account=turn.account.name,
                identity_provider=provider,
                account_team=team_names(turn, team),
            ),
        )
        turn.show(
            "utter_sso_explained",
            summary,
            team=team_names(turn, team),
            account=turn.account.name,
        )
        if provider:
            turn.say("utter_sso_provider_noted", provider=provider)
        propose(turn, "request_sso", {"identity_provider": provider or UNNAMED_PROVIDER})


@register("request_sso", capability="request_sso")
async def request_sso(turn: Turn, params: Dict[str, Any], key: str) -> None:
    filed = await turn.session.request_sso(params["identity_provider"], idempotency_key=key)
    turn.say("utter_sso_requested", team=team_names(turn, filed.account_team))
