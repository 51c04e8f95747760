"""Who wrote: (team, Slack user) -> the Premier person and their short-lived token.

The link lives at the account services, which alone hold the private key. The
Slack app presents its own credential (`SLACK_SERVICE_SECRET`) and gets the
person's token for channel "slack"; it keeps it until shortly before it expires
so that a conversation costs one exchange an hour, not one a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from bot.client import AccountServices
from bot.client.errors import NotFound

# A token this close to its end is exchanged again: it must outlive the turn it is used for.
RENEW_BEFORE = dt.timedelta(minutes=5)
MAX_CACHED = 10_000


class NotLinked(Exception):
    """This Slack user has no Premier person linked: they are told how to get linked."""


@dataclass(frozen=True)
class Person:
    user_id: int
    language: str
    token: str
    expires_at: dt.datetime


class People:
    """The link exchange, with each person's token kept until it nears its expiry."""

    def __init__(self, services: AccountServices, service_secret: Optional[str]):
        self._services = services
        self._secret = service_secret
        self._cache: Dict[Tuple[str, str], Person] = {}

    async def find(self, team: str, user: str) -> Person:
        """The person linked to `user` of workspace `team`.

        Raises:
            NotLinked: the services know no such link (or the person is no longer active).
            bot.client.errors.AccountServicesError: the services could not be asked.
        """
        key = (team, user)
        cached = self._cache.get(key)
        if cached and cached.expires_at - RENEW_BEFORE > dt.datetime.now(dt.timezone.utc):
            return cached
        if not self._secret:
            raise NotLinked("SLACK_SERVICE_SECRET is not set: nobody can be recognised")
        try:
            body = await self._services.request(
                "POST",
                "/slack/token",
                token=self._secret,
                json={"team_id": team, "user_id": user},
            )
        except NotFound:
            self._cache.pop(key, None)
            raise NotLinked(f"{team}/{user} is not linked") from None
        expires_at = dt.datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
        person = Person(
            user_id=int(body["user_id"]),
            language=str(body["language"]),
            token=str(body["token"]),
            expires_at=expires_at.replace(tzinfo=expires_at.tzinfo or dt.timezone.utc),
        )
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()  # rare and cheap: each person exchanges once more
        self._cache[key] = person
        return person

    def forget(self, team: str, user: str) -> None:
        """Drop a token the assistant refused (its session ended): the next turn exchanges anew."""
        self._cache.pop((team, user), None)
