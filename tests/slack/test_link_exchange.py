"""POST /slack/token: the services exchange a Slack link for a token, for the Slack app only."""

from __future__ import annotations

import httpx
import pytest

from bot import tokens
from tests.conftest import TEST_VERIFY_KEY
from tests.slack.harness import SERVICE_SECRET

pytestmark = pytest.mark.parametrize("services", ["sqlite"], indirect=True)


def _exchange(services, team: str, user: str, secret: str = SERVICE_SECRET) -> httpx.Response:
    return httpx.post(
        f"{services.base_url}/slack/token",
        headers={"Authorization": f"Bearer {secret}"} if secret else {},
        json={"team_id": team, "user_id": user},
        timeout=10,
    )


def test_a_linked_slack_user_gets_their_own_short_lived_slack_token(services, audit_rows):
    response = _exchange(services, "T0ACME", "U0BEN")
    assert response.status_code == 200, response.text
    body = response.json()
    identity = tokens.verify_token(TEST_VERIFY_KEY, body["token"])
    assert identity.user_id == services.user_id("ben.buyer@acme.example") == body["user_id"]
    assert identity.account_id == services.account_id("Acme Corporation")
    assert identity.channel == "slack" and body["language"] == "en"
    row = audit_rows(expect=1, action="slack_link", target="T0ACME/U0BEN")[-1]
    assert row.outcome == "ok" and row.channel == "slack" and row.role == "buyer"


def test_eves_token_is_for_one_of_her_assigned_accounts(services):
    body = _exchange(services, "T0VENDOR", "U0EVE").json()
    identity = tokens.verify_token(TEST_VERIFY_KEY, body["token"])
    assert identity.account_id in {
        services.account_id("Acme Corporation"),
        services.account_id("Globex México"),
    }


@pytest.mark.parametrize(
    ("team", "user"),
    [("T0ACME", "U0EVE"), ("T0VENDOR", "U0ANA"), ("T0ACME", "U0NOBODY")],
)
def test_a_link_is_per_workspace_and_an_unknown_one_is_not_found(services, team, user):
    response = _exchange(services, team, user)
    assert response.status_code == 404
    assert "token" not in response.text


@pytest.mark.parametrize("secret", ["", "wrong-secret", SERVICE_SECRET + "x"])
def test_only_the_slack_apps_credential_may_exchange(services, secret):
    response = _exchange(services, "T0ACME", "U0ANA", secret)
    assert response.status_code == 401
    assert "token" not in response.json()


def test_a_persons_own_token_cannot_exchange_a_link(services):
    response = _exchange(services, "T0ACME", "U0ANA", services.token("ana.admin@acme.example"))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"team_id": "T0ACME"},
        {"team_id": "t0acme", "user_id": "U0ANA"},
        {"team_id": "T0ACME", "user_id": 7},
        {"team_id": "T0ACME", "user_id": "U0ANA", "account": "Globex"},
    ],
)
def test_malformed_requests_are_refused_with_the_field(services, body):
    response = httpx.post(
        f"{services.base_url}/slack/token",
        headers={"Authorization": f"Bearer {SERVICE_SECRET}"},
        json=body,
        timeout=10,
    )
    assert response.status_code == 422
