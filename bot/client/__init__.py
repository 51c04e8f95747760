"""The one typed async client for the account services.

Build one `AccountServices` per process (it owns the connection pool), then
call as a person with `services.as_user(token)` (or `as_user(token, account_id=...)`
to act in another of the person's accounts for those calls: the services check
the membership on every request; a support agent reads a customer's account,
read-only, with `as_user(token, handoff=<id>)` while holding that handoff).
Results are the services' own wire models (`bot.services.schemas`); failures
raise `bot.client.errors`. Reads, and writes
carrying an idempotency key, are retried on a refused connection and 502/503/504;
nothing else is. A call that gets no answer within `timeout` is not retried (the
person is waiting), and a circuit breaker (`bot.client.breaker`) makes calls fail
at once while the services are down, trying one again every few seconds.

`me()` is cached per (person, account) for `me_ttl` seconds so that a chat turn
costs one call to the services, not two: it is what the actions show and how
they explain a denial, while the services decide every request afresh. A write
made through the client drops that person's cached entries at once.

Every call made while a request is handled carries its id (`bot.observability`) as
`X-Request-ID`, so the services' access line joins the message's other log lines.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar

import httpx
from pydantic import BaseModel, parse_obj_as

from bot.client.breaker import CircuitBreaker
from bot.client.errors import AccountServicesError, NotFound, Unavailable, error_for
from bot.observability import REQUEST_ID_HEADER, current_request_id
from bot.services import schemas as s

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
RETRY_STATUSES = frozenset({502, 503, 504})
# A person waits for every call: the services answer in milliseconds when they are well,
# so a call that takes longer than this fails with Unavailable (said to the person at once).
DEFAULT_TIMEOUT = 1.2
CONNECT_TIMEOUT = 0.5

__all__ = ["AccountServices", "AccountSession", "AccountServicesError"]


class AccountServices:
    """Connection pool, timeouts and retries; one per process."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 2,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        me_ttl: float = 0.0,
        breaker: Optional[CircuitBreaker] = None,
    ):
        """`timeout`: the most one call waits for an answer (a person is waiting for it)."""
        self.retries = retries
        self.me_ttl = me_ttl
        self.breaker = breaker or CircuitBreaker()
        self._me_cache: Dict[Tuple[int, Optional[int]], Tuple[float, s.Me]] = {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AccountServices:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def as_user(
        self,
        token: str,
        *,
        account_id: Optional[int] = None,
        user_id: Optional[int] = None,
        channel: Optional[str] = None,
        handoff: Optional[int] = None,
    ) -> AccountSession:
        """Calls as the token's person; in `account_id` when given (one of theirs).

        `user_id` (from the verified token) lets `me()` be answered from the cache;
        `channel` is the chat channel the person is using, for the services' audit log;
        `handoff` (a support agent's) reads that handoff's account through its grant.
        """
        return AccountSession(
            self, token, account_id=account_id, user_id=user_id, channel=channel, handoff=handoff
        )

    def cached_me(self, key: Tuple[int, Optional[int]]) -> Optional[s.Me]:
        entry = self._me_cache.get(key)
        if entry is None or time.monotonic() - entry[0] > self.me_ttl:
            return None
        return entry[1]

    def remember_me(self, key: Tuple[int, Optional[int]], me: s.Me) -> None:
        if self.me_ttl > 0:
            if len(self._me_cache) > 10_000:  # bounded: drop the oldest half
                for old in sorted(self._me_cache, key=lambda k: self._me_cache[k][0])[:5_000]:
                    del self._me_cache[old]
            self._me_cache[key] = (time.monotonic(), me)

    def forget_me(self, user_id: int) -> None:
        for key in [k for k in self._me_cache if k[0] == user_id]:
            del self._me_cache[key]

    async def support_contacts(self, region: Optional[str] = None) -> List[s.SupportContactOut]:
        """Public: no token needed."""
        params = {"region": region} if region else None
        data = await self.request("GET", "/support-contacts", params=params)
        return parse_obj_as(List[s.SupportContactOut], data)

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: Optional[str] = None,
        json: Any = None,
        params: Optional[Dict[str, Any]] = None,
        idempotency_key: Optional[str] = None,
        account_id: Optional[int] = None,
        channel: Optional[str] = None,
        handoff: Optional[int] = None,
        retry: bool = True,
    ) -> Any:
        """Send one call; returns the decoded JSON body or raises the matching error."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if account_id is not None:
            headers[s.ACCOUNT_HEADER] = str(account_id)
        if handoff is not None:
            headers[s.HANDOFF_HEADER] = str(handoff)
        if channel is not None:
            headers[s.CHANNEL_HEADER] = channel
        if idempotency_key:
            headers[s.IDEMPOTENCY_HEADER] = idempotency_key
        request_id = current_request_id()  # the message being answered: its id, in every part
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        attempts = 1 + (self.retries if retry else 0)
        last: Optional[Exception] = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
            if not self.breaker.allow():
                raise Unavailable("the account services are not answering; not asking again yet")
            try:
                response = await self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TimeoutException as exc:
                # Too slow to answer: asking again would only make the person wait longer.
                self.breaker.failed()
                raise Unavailable(f"the account services did not answer in time: {exc!r}") from exc
            except httpx.TransportError as exc:  # refused or dropped: a restart may be under way
                self.breaker.failed()
                last = exc
                continue
            if response.status_code in RETRY_STATUSES:
                self.breaker.failed()
                if attempt + 1 < attempts:
                    last = None
                    continue
            else:
                self.breaker.succeeded()
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code >= 400:
                raise error_for(response.status_code, body)
            return body
        raise Unavailable(f"the account services did not answer: {last or 'busy'}")


def _key(idempotency_key: str) -> str:
    if not idempotency_key:
        raise ValueError("writes need an idempotency key")
    return idempotency_key


class AccountSession:
    """Calls made as one person; cheap to create per conversation turn."""

    def __init__(
        self,
        services: AccountServices,
        token: str,
        *,
        account_id: Optional[int] = None,
        user_id: Optional[int] = None,
        channel: Optional[str] = None,
        handoff: Optional[int] = None,
    ):
        self._services = services
        self.token = token
        self.account_id = account_id
        self.user_id = user_id
        self.channel = channel
        self.handoff_grant = handoff

    def in_account(self, account_id: Optional[int]) -> AccountSession:
        """The same person acting in another of their accounts."""
        return AccountSession(
            self._services,
            self.token,
            account_id=account_id,
            user_id=self.user_id,
            channel=self.channel,
            handoff=self.handoff_grant,
        )

    async def _get(self, path: str, model: Type[T], **params: Any) -> T:
        clean = {k: v for k, v in params.items() if v is not None}
        data = await self._services.request(
            "GET",
            path,
            token=self.token,
            params=clean or None,
            account_id=self.account_id,
            channel=self.channel,
            handoff=self.handoff_grant,
        )
        return parse_obj_as(model, data)

    async def _post(
        self,
        path: str,
        model: Type[T],
        body: Any,
        *,
        key: Optional[str] = None,
        method: str = "POST",
        retry: bool = True,
    ) -> T:
        try:
            data = await self._services.request(
                method,
                path,
                token=self.token,
                json=body,
                idempotency_key=key,
                account_id=self.account_id,
                channel=self.channel,
                handoff=self.handoff_grant,
                retry=retry,
            )
        finally:
            if key is not None and self.user_id is not None:
                self._services.forget_me(self.user_id)  # a write may change what /me says
        return parse_obj_as(model, data)

    # identity ------------------------------------------------------------------------------
    async def me(self) -> s.Me:
        """Who the caller is in the account of this session (cached, see the module doc)."""
        key = (self.user_id, self.account_id) if self.user_id is not None else None
        if key is not None:
            cached = self._services.cached_me(key)
            if cached is not None:
                return cached
        me = await self._get("/me", s.Me)
        if key is not None:
            self._services.remember_me(key, me)
        return me

    async def decision(self, capability: str) -> s.Decision:
        return await self._get(f"/me/decisions/{capability}", s.Decision)

    async def switch_account(self, account: str) -> s.SwitchAccountOut:
        """Returns a token for the other account; use it for every later call."""
        return await self._post(
            "/me/switch-account", s.SwitchAccountOut, {"account": account}, retry=False
        )

    async def renew_token(self) -> s.TokenOut:
        """A fresh token for the same session (call before this one expires).

        Raises:
            SessionExpired: the token expired, or the session reached its maximum lifetime.
        """
        return await self._post("/me/token", s.TokenOut, None)

    # settings ------------------------------------------------------------------------------
    async def account(self) -> s.AccountOut:
        return await self._get("/account", s.AccountOut)

    async def update_company(self, *, idempotency_key: str, **changes: str) -> s.ChangeOut:
        return await self._post(
            "/account", s.ChangeOut, changes, key=_key(idempotency_key), method="PATCH"
        )

    async def profile(self) -> s.Profile:
        return await self._get("/profile", s.Profile)

    async def update_profile(self, *, idempotency_key: str, **changes: str) -> s.ChangeOut:
        return await self._post(
            "/profile", s.ChangeOut, changes, key=_key(idempotency_key), method="PATCH"
        )

    async def addresses(self) -> List[s.AddressOut]:
        return await self._get("/addresses", List[s.AddressOut])  # type: ignore[arg-type]

    async def add_address(self, *, idempotency_key: str, **fields: str) -> s.CreatedAddress:
        return await self._post("/addresses", s.CreatedAddress, fields, key=_key(idempotency_key))

    async def payment_methods(self) -> List[s.PaymentMethodOut]:
        return await self._get("/payment-methods", List[s.PaymentMethodOut])  # type: ignore[arg-type]

    async def quick_checkout(self) -> List[s.QuickCheckoutOut]:
        return await self._get("/quick-checkout", List[s.QuickCheckoutOut])  # type: ignore[arg-type]

    # users ---------------------------------------------------------------------------------
    async def users(self) -> List[s.UserOut]:
        return await self._get("/users", List[s.UserOut])  # type: ignore[arg-type]

    async def invite_user(
        self, email: str, role: str, *, idempotency_key: str, name: Optional[str] = None
    ) -> s.UserChangeOut:
        body = {"email": email, "role": role, **({"name": name} if name else {})}
        return await self._post(
            "/users/invitations", s.UserChangeOut, body, key=_key(idempotency_key)
        )

    async def change_user_role(
        self, user_id: int, role: str, *, idempotency_key: str
    ) -> s.UserChangeOut:
        return await self._post(
            f"/users/{user_id}",
            s.UserChangeOut,
            {"role": role},
            key=_key(idempotency_key),
            method="PATCH",
        )

    async def deactivate_user(self, user_id: int, *, idempotency_key: str) -> s.UserChangeOut:
        return await self._post(
            f"/users/{user_id}/deactivate", s.UserChangeOut, None, key=_key(idempotency_key)
        )

    async def reactivate_user(self, user_id: int, *, idempotency_key: str) -> s.UserChangeOut:
        return await self._post(
            f"/users/{user_id}/reactivate", s.UserChangeOut, None, key=_key(idempotency_key)
        )

    async def request_sso(
        self, identity_provider: str, *, idempotency_key: str, note: str = ""
    ) -> s.SsoRequestOut:
        return await self._post(
            "/sso-requests",
            s.SsoRequestOut,
            {"identity_provider": identity_provider, "note": note},
            key=_key(idempotency_key),
        )

    # orders --------------------------------------------------------------------------------
    async def quotes(self) -> List[s.QuoteOut]:
        return await self._get("/quotes", List[s.QuoteOut])  # type: ignore[arg-type]

    async def recent_orders(self, days: int = 30) -> List[s.OrderOut]:
        return await self._get("/orders", List[s.OrderOut], days=days)  # type: ignore[arg-type]

    async def order(self, number: str) -> s.OrderOut:
        return await self._get(f"/orders/{number}", s.OrderOut)

    async def cart(self) -> s.CartOut:
        return await self._get("/cart", s.CartOut)

    async def reorder(self, order_number: str, *, idempotency_key: str) -> s.CartOut:
        return await self._post(
            "/cart/reorder", s.CartOut, {"order_number": order_number}, key=_key(idempotency_key)
        )

    # invoices ------------------------------------------------------------------------------
    async def invoices(self, status: str = "all") -> s.InvoiceList:
        return await self._get("/invoices", s.InvoiceList, status=status)

    async def invoice(self, number: str) -> s.InvoiceOut:
        return await self._get(f"/invoices/{number}", s.InvoiceOut)

    async def invoice_pdf(self, number: str) -> s.Link:
        return await self._get(f"/invoices/{number}/pdf", s.Link)

    async def pay_invoice(
        self, number: str, payment_method_id: int, *, idempotency_key: str
    ) -> s.PaymentOut:
        return await self._post(
            f"/invoices/{number}/payments",
            s.PaymentOut,
            {"payment_method_id": payment_method_id},
            key=_key(idempotency_key),
        )

    # devices and contracts -----------------------------------------------------------------
    async def devices(self) -> List[s.DeviceOut]:
        return await self._get("/devices", List[s.DeviceOut])  # type: ignore[arg-type]

    async def device(self, service_tag: str) -> s.DeviceOut:
        return await self._get(f"/devices/{s.normalize_service_tag(service_tag)}", s.DeviceOut)

    async def contract_plans(self) -> List[s.PlanOut]:
        return await self._get("/contract-plans", List[s.PlanOut])  # type: ignore[arg-type]

    async def contracts(self) -> List[s.ContractOut]:
        return await self._get("/contracts", List[s.ContractOut])  # type: ignore[arg-type]

    async def renewal_quote(
        self, service_tags: Sequence[str], plan: str, years: int
    ) -> s.ContractQuoteOut:
        body = {"service_tags": list(service_tags), "plan": plan, "years": years}
        return await self._post("/contracts/renewal-quotes", s.ContractQuoteOut, body)

    async def upgrade_quote(self, service_tags: Sequence[str], plan: str) -> s.ContractQuoteOut:
        body = {"service_tags": list(service_tags), "plan": plan}
        return await self._post("/contracts/upgrade-quotes", s.ContractQuoteOut, body)

    async def renew_contracts(
        self, service_tags: Sequence[str], plan: str, years: int, *, idempotency_key: str
    ) -> s.ContractChangeOut:
        body = {"service_tags": list(service_tags), "plan": plan, "years": years}
        return await self._post(
            "/contracts/renewals", s.ContractChangeOut, body, key=_key(idempotency_key)
        )

    async def upgrade_contracts(
        self, service_tags: Sequence[str], plan: str, *, idempotency_key: str
    ) -> s.ContractChangeOut:
        body = {"service_tags": list(service_tags), "plan": plan}
        return await self._post(
            "/contracts/upgrades", s.ContractChangeOut, body, key=_key(idempotency_key)
        )

    async def subscriptions(self) -> List[s.SubscriptionOut]:
        return await self._get("/subscriptions", List[s.SubscriptionOut])  # type: ignore[arg-type]

    # support -------------------------------------------------------------------------------
    async def account_team(self) -> List[s.TeamContactOut]:
        return await self._get("/account-team", List[s.TeamContactOut])  # type: ignore[arg-type]

    async def service_requests(self, status: str = "all") -> List[s.ServiceRequestOut]:
        return await self._get(
            "/service-requests",
            List[s.ServiceRequestOut],  # type: ignore[arg-type]
            status=status,
        )

    async def service_request(self, number: str) -> s.ServiceRequestOut:
        return await self._get(f"/service-requests/{number}", s.ServiceRequestOut)

    async def open_service_request(
        self, service_tag: str, description: str, *, idempotency_key: str
    ) -> s.CreatedServiceRequest:
        body = {"service_tag": service_tag, "description": description}
        return await self._post(
            "/service-requests", s.CreatedServiceRequest, body, key=_key(idempotency_key)
        )

    async def documents(self) -> List[s.DocumentOut]:
        return await self._get("/documents", List[s.DocumentOut])  # type: ignore[arg-type]

    async def document_link(self, document_id: int) -> s.Link:
        return await self._get(f"/documents/{document_id}/link", s.Link)

    # reports -------------------------------------------------------------------------------
    async def report_types(self) -> List[s.ReportTypeOut]:
        return await self._get("/reports", List[s.ReportTypeOut])  # type: ignore[arg-type]

    async def generate_report(
        self, report_type: str, starts_on: dt.date, ends_on: dt.date, *, idempotency_key: str
    ) -> s.ReportOut:
        body = {
            "type": report_type,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
        }
        return await self._post("/reports", s.ReportOut, body, key=_key(idempotency_key))

    async def report(self, report_id: int) -> s.ReportOut:
        return await self._get(f"/reports/{report_id}", s.ReportOut)

    # the handoff desk: the customer's side ----------------------------------------------------
    async def open_handoff(
        self,
        conversation_id: str,
        *,
        channel: str,
        language: str,
        reason: str,
        topic: Optional[str] = None,
        slots: Optional[Mapping[str, Any]] = None,
        transcript: Sequence[Mapping[str, Any]] = (),
        idempotency_key: Optional[str] = None,
    ) -> s.HandoffStatus:
        """Hand the conversation to the desk; this conversation's open handoff if it has one.

        `transcript`: `{who, text, at}` lines (`at` a datetime or an ISO string). Asking
        twice answers the same handoff, so a retry cannot open a second one.
        """
        lines = [
            {**line, "at": line["at"].isoformat()}
            if isinstance(line.get("at"), dt.datetime)
            else dict(line)
            for line in transcript
        ]
        body = {
            "conversation_id": conversation_id,
            "channel": channel,
            "language": language,
            "reason": reason,
            "topic": topic,
            "slots": dict(slots or {}),
            "transcript": lines,
        }
        return await self._post("/handoffs", s.HandoffStatus, body, key=idempotency_key)

    async def current_handoff(self, conversation_id: str) -> Optional[s.HandoffStatus]:
        """This person's open handoff for the conversation; None when there is none."""
        try:
            return await self._get(
                "/handoffs/current", s.HandoffStatus, conversation_id=conversation_id
            )
        except NotFound:
            return None

    async def handoff(self, handoff_id: int) -> s.HandoffStatus:
        return await self._get(f"/handoffs/{handoff_id}", s.HandoffStatus)

    async def handoff_message(self, handoff_id: int, text: str) -> s.HandoffMessageOut:
        """The customer's message to the desk (not retried: it would arrive twice)."""
        return await self._post(
            f"/handoffs/{handoff_id}/messages", s.HandoffMessageOut, {"text": text}, retry=False
        )

    async def cancel_handoff(self, handoff_id: int) -> s.HandoffStatus:
        return await self._post(f"/handoffs/{handoff_id}/cancel", s.HandoffStatus, None)

    async def handoff_service_request(self, handoff_id: int) -> s.CreatedServiceRequest:
        """A service request with the transcript instead of waiting (state `converted`)."""
        return await self._post(
            f"/handoffs/{handoff_id}/service-request", s.CreatedServiceRequest, None
        )

    # the handoff desk: the agent's side -----------------------------------------------------
    async def desk_queue(self) -> s.DeskQueue:
        """The waiting handoffs and the caller's; also the agent's heartbeat."""
        return await self._get("/desk/queue", s.DeskQueue)

    async def claim_handoff(self, handoff_id: int) -> s.HandoffDetail:
        """Raises: AlreadyClaimed (with `claimed_by`) when another agent won."""
        return await self._post(f"/desk/handoffs/{handoff_id}/claim", s.HandoffDetail, None)

    async def desk_handoff(self, handoff_id: int) -> s.HandoffDetail:
        return await self._get(f"/desk/handoffs/{handoff_id}", s.HandoffDetail)

    async def desk_say(self, handoff_id: int, text: str) -> s.HandoffMessageOut:
        """The agent's message to the customer (not retried: it would arrive twice)."""
        return await self._post(
            f"/desk/handoffs/{handoff_id}/messages",
            s.HandoffMessageOut,
            {"text": text},
            retry=False,
        )

    async def release_handoff(self, handoff_id: int) -> s.HandoffSummary:
        return await self._post(f"/desk/handoffs/{handoff_id}/release", s.HandoffSummary, None)

    async def close_handoff(
        self, handoff_id: int, outcome: str, note: Optional[str] = None
    ) -> s.HandoffDetail:
        body = {"outcome": outcome, **({"note": note} if note is not None else {})}
        return await self._post(f"/desk/handoffs/{handoff_id}/close", s.HandoffDetail, body)
