"""Users actions against the real services: list, invite, change role, deactivate, SSO.

The demo people keep their roles (other tests rely on them): changes are made
to freshly invited users with unique emails.
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, List

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.changes import ActionConfirmChange
from actions.users import (
    ActionChangeUserRole,
    ActionDeactivateUser,
    ActionInviteUser,
    ActionLeaveUserForm,
    ActionListUsers,
    ActionRequestSso,
    ValidateChangeUserRoleForm,
    ValidateDeactivateUserForm,
    ValidateInviteUserForm,
    identity_provider,
    normalize_role,
)
from bot.services import models as m
from tests.actions.harness import check_form, entity_in, field_labels, field_values, start_form

ANA = "ana.admin@acme.example"


def entity(name: str, value: str) -> Dict[str, Any]:
    return {"entity": name, "value": value, "start": 0, "end": len(value)}


def fresh_email() -> str:
    return f"new.user-{uuid.uuid4().hex[:10]}@acme.example"


def memberships(services, email: str, account: str = "Acme Corporation") -> List[m.Membership]:
    with Session(services.engine) as session:
        user_id = session.scalar(select(m.User.id).filter_by(email=email))
        return list(
            session.scalars(
                select(m.Membership).filter_by(
                    user_id=user_id, account_id=services.account_id(account)
                )
            )
        )


async def invite(run, token: str, email: str, role: str) -> None:
    """Invite `email` through the action and its confirmation."""
    proposed = await run(ActionInviteUser(), token, slots={"user_email": email, "user_role": role})
    done = await run(
        ActionConfirmChange(), token, slots={"pending_change": proposed.slot("pending_change")}
    )
    assert done.responses == ["utter_user_invited"]


# --- pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "role"),
    [
        ("site_admin", "site_admin"),
        ("Site Admin", "site_admin"),
        ("administrador", "site_admin"),
        ("Administrador del sitio", "site_admin"),
        ("buyer", "buyer"),
        ("compradora", "buyer"),
        ("shopper", "shopper"),
        ("owner", None),
    ],
)
def test_roles_as_people_say_them(said, role):
    assert normalize_role(said) == role


@pytest.mark.parametrize(
    ("text", "provider"),
    [
        ("can we use Okta to log in", "Okta"),
        ("we'd like to integrate Azure AD", "Microsoft Entra ID"),
        ("usamos Google Workspace, ¿se puede activar SSO?", "Google Workspace"),
        ("set up SSO", None),
        ("we are shipping laptops", None),
    ],
)
def test_identity_providers_named_in_passing(text, provider):
    assert identity_provider(text) == provider


# --- list --------------------------------------------------------------------------------


async def test_ana_lists_the_accounts_users(services, run):
    outcome = await run(ActionListUsers(), services.token(ANA))
    assert outcome.responses == ["utter_users"]
    users = outcome.values("utter_users")["users"]
    assert "ben.buyer@acme.example" in users and "sara.shopper@acme.example" in users
    assert "eve.rep@vendor.example" not in users  # vendor staff are not users of the account


async def test_listing_only_one_role(services, run):
    outcome = await run(ActionListUsers(), services.token(ANA), entities=[entity("role", "buyer")])
    users = outcome.values("utter_users")["users"]
    assert "ben.buyer@acme.example" in users and "sara.shopper@acme.example" not in users


async def test_sara_may_not_list_users(services, run):
    outcome = await run(ActionListUsers(), services.token("sara.shopper@acme.example"))
    assert outcome.responses == ["utter_denied_role"]
    assert "Ana Álvarez" in outcome.values("utter_denied_role")["admins"]


async def test_users_in_spanish_for_diego(services, run):
    outcome = await run(
        ActionListUsers(), services.token("diego.admin@globex.example"), slots={"language": "es"}
    )
    values = outcome.values("utter_users")
    assert values["account"] == "Globex México"
    assert "administrador del sitio" in values["users"]


# --- invite ------------------------------------------------------------------------------


async def test_the_invitation_form_normalises_its_answers(services, run):
    email = fresh_email()
    checked = await check_form(
        ValidateInviteUserForm(),
        services.token(ANA),
        "invite_user_form",
        {"user_email": email.upper(), "user_role": "Site Admin"},
    )
    assert checked.responses == []
    assert checked.slot("user_email") == email and checked.slot("user_role") == "site_admin"
    assert checked.slot("requested_slot") is None


async def test_the_invitation_form_asks_again_for_bad_answers(services, run):
    checked = await check_form(
        ValidateInviteUserForm(),
        services.token(ANA),
        "invite_user_form",
        {"user_email": "not-an-email", "user_role": "owner"},
    )
    assert checked.responses == ["utter_invalid_email", "utter_invalid_role"]
    assert checked.slot("requested_slot") == "user_email"


async def test_ana_invites_a_new_user_once(services, run):
    token = services.token(ANA)
    email = fresh_email()
    proposed = await run(
        ActionInviteUser(), token, slots={"user_email": email, "user_role": "buyer"}
    )
    assert proposed.responses == ["utter_invite_summary", "utter_confirm_buttons"]
    assert proposed.slot("user_email") is None and proposed.slot("user_role") is None
    pending = proposed.slot("pending_change")
    assert memberships(services, email) == []

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_user_invited"]
    again = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert again.responses == ["utter_user_invited"]
    rows = memberships(services, email)
    assert len(rows) == 1
    assert rows[0].status == "invited" and rows[0].role == "buyer"


async def test_diego_invites_in_spanish(services, run):
    token = services.token("diego.admin@globex.example")
    email = f"nuevo-{uuid.uuid4().hex[:10]}@globex.example"
    proposed = await run(
        ActionInviteUser(),
        token,
        slots={"language": "es", "user_email": email, "user_role": "buyer"},
    )
    values = proposed.values("utter_invite_summary")
    assert values["role"] == "comprador" and values["account"] == "Globex México"
    done = await run(
        ActionConfirmChange(),
        token,
        slots={"language": "es", "pending_change": proposed.slot("pending_change")},
    )
    assert done.values("utter_user_invited")["role"] == "comprador"
    assert len(memberships(services, email, "Globex México")) == 1


# --- change role and deactivate ----------------------------------------------------------


async def test_a_user_of_another_account_is_not_found(services, run):
    checked = await check_form(
        ValidateChangeUserRoleForm(),
        services.token(ANA),
        "change_user_role_form",
        {"user_email": "lena.buyer@initech.example", "user_role": "buyer"},
    )
    assert checked.responses == ["utter_not_found"]
    assert checked.values("utter_not_found")["id"] == "lena.buyer@initech.example"
    assert checked.slot("user_email") is None
    assert checked.slot("user_role") == "buyer"
    assert checked.slot("requested_slot") == "user_email"


async def test_ana_changes_an_invited_users_role(services, run):
    token = services.token(ANA)
    email = fresh_email()
    await invite(run, token, email, "shopper")
    checked = await check_form(
        ValidateChangeUserRoleForm(),
        token,
        "change_user_role_form",
        {"user_email": email, "user_role": "buyer"},
    )
    assert checked.responses == [] and checked.slot("requested_slot") is None

    proposed = await run(
        ActionChangeUserRole(), token, slots={"user_email": email, "user_role": "buyer"}
    )
    assert proposed.responses == ["utter_change_role_summary", "utter_confirm_buttons"]
    values = proposed.values("utter_change_role_summary")
    assert values["current_role"] == "shopper" and values["role"] == "buyer"
    done = await run(
        ActionConfirmChange(), token, slots={"pending_change": proposed.slot("pending_change")}
    )
    assert done.responses == ["utter_user_role_changed"]
    assert memberships(services, email)[0].role == "buyer"


async def test_the_same_role_again_changes_nothing(services, run):
    outcome = await run(
        ActionChangeUserRole(),
        services.token(ANA),
        slots={"user_email": "ben.buyer@acme.example", "user_role": "buyer"},
    )
    assert outcome.responses == ["utter_user_already_has_role"]
    assert outcome.slot("pending_change") == "<unset>"


async def test_ana_cannot_change_her_own_role(services, run):
    token = services.token(ANA)
    proposed = await run(
        ActionChangeUserRole(), token, slots={"user_email": ANA, "user_role": "buyer"}
    )
    pending = proposed.slot("pending_change")
    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_conflict_self_change"]
    assert done.slot("pending_change") is None and done.slot("last_change") == "<unset>"
    assert memberships(services, ANA)[0].role == "site_admin"


async def test_ana_deactivates_an_invited_user(services, run):
    token = services.token(ANA)
    email = fresh_email()
    await invite(run, token, email, "shopper")
    checked = await check_form(
        ValidateDeactivateUserForm(), token, "deactivate_user_form", {"user_email": email}
    )
    assert checked.slot("user_email") == email and checked.slot("requested_slot") is None

    proposed = await run(ActionDeactivateUser(), token, slots={"user_email": email})
    assert proposed.responses == ["utter_deactivate_summary", "utter_confirm_buttons"]
    pending = proposed.slot("pending_change")
    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_user_deactivated"]
    assert memberships(services, email)[0].status == "deactivated"
    again = await run(ActionConfirmChange(), token, slots={"last_change": pending})
    assert again.responses == ["utter_already_done"]


async def test_a_buyer_is_refused_before_any_question(services, run):
    token = services.token("ben.buyer@acme.example")
    checked = await check_form(
        ValidateDeactivateUserForm(),
        token,
        "deactivate_user_form",
        {"user_email": "sara.shopper@acme.example"},
    )
    assert checked.responses == ["utter_denied_role"]
    assert checked.slot("requested_slot") is None and checked.slot("user_email") is None
    submitted = await run(ActionDeactivateUser(), token)
    assert submitted.responses == []
    assert memberships(services, "sara.shopper@acme.example")[0].status == "active"


async def test_cancel_inside_a_users_form_forgets_its_answers(run):
    outcome = await run(
        ActionLeaveUserForm(), None, slots={"user_email": "x@acme.example", "user_role": "buyer"}
    )
    assert outcome.responses == ["utter_change_cancelled"]
    assert outcome.slot("user_email") is None and outcome.slot("user_role") is None


# --- SSO ---------------------------------------------------------------------------------


def sso_requests(services, provider: str) -> int:
    with Session(services.engine) as session:
        return session.scalar(
            select(func.count())
            .select_from(m.SsoRequest)
            .filter_by(
                account_id=services.account_id("Acme Corporation"), identity_provider=provider
            )
        )


async def test_sso_is_explained_then_requested_from_the_account_team(services, run):
    token = services.token(ANA)
    proposed = await run(ActionRequestSso(), token, text="we use Okta, can we enable SSO?")
    assert proposed.responses == [
        "utter_sso_explained",
        "utter_sso_provider_noted",
        "utter_confirm_buttons",
    ]
    assert "Maya Chen" in proposed.values("utter_sso_explained")["team"]
    pending = proposed.slot("pending_change")
    before = sso_requests(services, "Okta")

    done = await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert done.responses == ["utter_sso_requested"]
    assert "Eve Reyes" in done.values("utter_sso_requested")["team"]
    await run(ActionConfirmChange(), token, slots={"pending_change": pending})
    assert sso_requests(services, "Okta") == before + 1


async def test_hannahs_home_account_has_no_user_management(services, run):
    outcome = await run(ActionRequestSso(), services.token("hannah@home.example"))
    assert outcome.responses == ["utter_denied_account_type"]


# --- the message that starts a form ------------------------------------------------------


async def test_an_invitation_that_names_email_and_role_asks_nothing_more(services, run):
    email = fresh_email()
    text = f"invite {email} as a buyer"
    started = await start_form(
        ValidateInviteUserForm(),
        services.token(ANA),
        "invite_user_form",
        text=text,
        intent="invite_user",
        entities=[entity_in(text, "email", email), entity_in(text, "role", "buyer")],
    )
    assert started.responses == []
    assert started.slot("user_email") == email and started.slot("user_role") == "buyer"
    assert started.slot("requested_slot") is None


async def test_an_invitation_in_spanish_that_names_email_and_role(services, run):
    email = fresh_email()
    text = f"invita a {email} como administrador del sitio"
    started = await start_form(
        ValidateInviteUserForm(),
        services.token("diego.admin@globex.example"),
        "invite_user_form",
        text=text,
        intent="invite_user",
        entities=[
            entity_in(text, "email", email),
            entity_in(text, "role", "administrador del sitio", "site_admin"),
        ],
        language="es",
    )
    assert started.responses == []
    assert started.slot("user_email") == email and started.slot("user_role") == "site_admin"
    assert started.slot("requested_slot") is None


async def test_an_invitation_with_only_the_email_asks_for_the_role(services, run):
    email = fresh_email()
    text = f"please invite {email}"
    started = await start_form(
        ValidateInviteUserForm(),
        services.token(ANA),
        "invite_user_form",
        text=text,
        intent="invite_user",
        entities=[entity_in(text, "email", email)],
    )
    assert started.responses == []
    assert started.slot("user_email") == email
    assert started.slot("requested_slot") == "user_role"


async def test_a_role_change_that_names_user_and_role_asks_nothing_more(services, run):
    text = "make sara.shopper@acme.example a buyer"
    started = await start_form(
        ValidateChangeUserRoleForm(),
        services.token(ANA),
        "change_user_role_form",
        text=text,
        intent="change_user_role",
        entities=[
            entity_in(text, "email", "sara.shopper@acme.example"),
            entity_in(text, "role", "buyer"),
        ],
    )
    assert started.responses == []
    assert started.slot("user_email") == "sara.shopper@acme.example"
    assert started.slot("user_role") == "buyer"
    assert started.slot("requested_slot") is None


async def test_a_deactivation_of_someone_outside_the_account_is_not_found_at_once(services, run):
    text = "deactivate lena.buyer@initech.example"
    started = await start_form(
        ValidateDeactivateUserForm(),
        services.token(ANA),
        "deactivate_user_form",
        text=text,
        intent="deactivate_user",
        entities=[entity_in(text, "email", "lena.buyer@initech.example")],
    )
    assert started.responses == ["utter_not_found"]
    assert started.values("utter_not_found")["id"] == "lena.buyer@initech.example"
    assert started.slot("user_email") is None
    assert started.slot("requested_slot") == "user_email"


# --- what the actions show as data beside the text ---------------------------------------


async def test_users_are_a_list_by_email_with_their_role(services, run):
    token = services.token(ANA)
    invited = fresh_email()
    await invite(run, token, invited, "shopper")
    outcome = await run(ActionListUsers(), token)
    shown = outcome.data("utter_users")
    assert (shown["type"], shown["kind"], shown["title"]) == ("list", "users", "Acme Corporation")
    items = {item["id"]: item for item in shown["items"]}
    assert field_values(items["ben.buyer@acme.example"]["fields"]) == {
        "email": "ben.buyer@acme.example",
        "role": "buyer",
    }
    assert "status" not in items["ben.buyer@acme.example"]  # active, as the text says nothing
    assert items[invited]["status"] == {"value": "invited", "label": "invited", "tone": "info"}


async def test_users_in_spanish_have_spanish_labels_and_roles(services, run):
    outcome = await run(
        ActionListUsers(), services.token("diego.admin@globex.example"), slots={"language": "es"}
    )
    diego = next(
        item
        for item in outcome.data("utter_users")["items"]
        if item["id"] == "diego.admin@globex.example"
    )
    assert field_labels(diego["fields"]) == {"email": "Correo", "role": "Rol"}
    assert field_values(diego["fields"])["role"] == "administrador del sitio"


async def test_an_invitation_summary_carries_what_is_confirmed(services, run):
    email = fresh_email()
    outcome = await run(
        ActionInviteUser(),
        services.token(ANA),
        slots={"user_email": email, "user_role": "buyer"},
    )
    shown = outcome.data("utter_invite_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == ("confirmation", "invite_user", email)
    assert field_values(shown["fields"]) == {
        "email": email,
        "role": "buyer",
        "account": "Acme Corporation",
    }
    assert memberships(services, email) == []  # nothing before "yes"


async def test_a_role_change_summary_shows_the_current_and_the_new_role(services, run):
    outcome = await run(
        ActionChangeUserRole(),
        services.token("diego.admin@globex.example"),
        slots={"language": "es", "user_email": "diego.admin@globex.example", "user_role": "buyer"},
    )
    # Diego is the only site admin of Globex: the services will refuse, but the summary shows.
    shown = outcome.data("utter_change_role_summary")
    assert (shown["type"], shown["kind"]) == ("confirmation", "change_user_role")
    values = field_values(shown["fields"])
    assert (values["current_role"], values["new_role"]) == ("administrador del sitio", "comprador")
    assert field_labels(shown["fields"])["new_role"] == "Rol nuevo"


async def test_a_deactivation_summary_names_the_user(services, run):
    outcome = await run(
        ActionDeactivateUser(), services.token(ANA), slots={"user_email": "ben.buyer@acme.example"}
    )
    shown = outcome.data("utter_deactivate_summary")
    assert (shown["type"], shown["kind"], shown["title"]) == (
        "confirmation",
        "deactivate_user",
        "Ben Baker",
    )
    assert field_values(shown["fields"])["email"] == "ben.buyer@acme.example"


async def test_an_sso_request_summary_names_the_provider(services, run):
    outcome = await run(
        ActionRequestSso(), services.token(ANA), text="we use Okta, can we enable SSO?"
    )
    shown = outcome.data("utter_sso_explained")
    assert (shown["type"], shown["kind"]) == ("confirmation", "request_sso")
    values = field_values(shown["fields"])
    assert values["identity_provider"] == "Okta"
    assert values["account_team"] == outcome.values("utter_sso_explained")["team"]
    assert outcome.data("utter_sso_provider_noted") == {}
