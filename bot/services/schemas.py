"""The wire contract of the account services: request and response bodies.

The typed client parses responses into these same models, so the two sides
cannot drift. Request bodies refuse unknown fields.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Dict, List, Optional

from pydantic import BaseModel, Field, conint, constr, root_validator, validator

SERVICE_TAG = r"^[A-Z0-9]{7}$"
ORDER_NUMBER = r"^[0-9]{9}$"
INVOICE_NUMBER = r"^INV-[0-9]{8}$"
SERVICE_REQUEST_NUMBER = r"^[0-9]{10}$"
ROLES = ("site_admin", "buyer", "shopper")
PLANS = ("basic", "prosupport", "prosupport_plus")
REPORT_TYPES = ("purchase_history", "spend", "order_history")
REGIONS = ("Americas", "EMEA", "APJ")
EMAIL = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$"
# Request headers of the contract, named once for the services and the client.
IDEMPOTENCY_HEADER = "Idempotency-Key"
# One request acts in another of the caller's own accounts (a chat switch, an account named
# in a request); the services check the membership on every request, as for the token's account.
ACCOUNT_HEADER = "Premier-Account"


def normalize_service_tag(raw: str) -> str:
    """'7xk-2m93' -> '7XK2M93': users type tags in any case, with spaces or dashes."""
    return re.sub(r"[\s\-]", "", raw).upper()


MAX_ID = 2**31 - 1


def _check_text(value: Any, where: str = "") -> None:
    """Refuse text no database can store faithfully: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where or 'a value'} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where or 'a value'} is not valid text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(item, str(key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_text(item, where)


class Strict(BaseModel):
    """Request bodies: unknown fields refused, text checked before it reaches a database."""

    class Config:
        extra = "forbid"
        anystr_strip_whitespace = True

    @root_validator(pre=True)
    def _valid_text(cls, values: Dict[str, Any]) -> Dict[str, Any]:
        _check_text(values)
        return values


class Out(BaseModel):
    class Config:
        orm_mode = True


class Money(Out):
    cents: int
    currency: str


# --- identity and account -------------------------------------------------------------


class AccountRef(Out):
    id: int
    name: str
    role: str


class AccountOut(Out):
    id: int
    name: str
    customer_number: str
    type: str
    country: str
    currency: str
    legal_name: str
    phone: str
    tax_id: str
    billing_report_enabled: bool
    access_groups: List[str]


class Me(Out):
    user_id: int
    email: str
    name: str
    language: str
    role: Optional[str]
    flags: List[str]
    account: Optional[AccountOut]
    access_group: Optional[str]
    accounts: List[AccountRef]
    capabilities: List[str]
    site_admins: List[Dict[str, str]] = []


class SwitchAccountIn(Strict):
    account: constr(min_length=1, max_length=120)  # type: ignore[valid-type]


class SwitchAccountOut(Out):
    token: str
    account: AccountOut
    role: str


class Decision(Out):
    capability: str
    allowed: bool
    reason: Optional[str]
    required: List[str]


class CompanyUpdate(Strict):
    legal_name: Optional[constr(min_length=2, max_length=200)]  # type: ignore[valid-type]
    phone: Optional[constr(min_length=5, max_length=40, regex=r"^[0-9+()\- .]+$")]  # type: ignore[valid-type]
    tax_id: Optional[constr(min_length=2, max_length=40)]  # type: ignore[valid-type]


class Profile(Out):
    name: str
    email: str
    phone: str
    job_title: str
    language: str


class ProfileUpdate(Strict):
    name: Optional[constr(min_length=1, max_length=120)]  # type: ignore[valid-type]
    phone: Optional[constr(min_length=5, max_length=40, regex=r"^[0-9+()\- .]+$")]  # type: ignore[valid-type]
    job_title: Optional[constr(max_length=120)]  # type: ignore[valid-type]
    language: Optional[constr(regex=r"^(en|es)$")]  # type: ignore[valid-type]


class AddressOut(Out):
    id: int
    label: str
    kind: str
    line1: str
    city: str
    region: str
    postal_code: str
    country: str


class CreatedAddress(AddressOut):
    replayed: bool = False


class AddressIn(Strict):
    label: constr(min_length=1, max_length=80)  # type: ignore[valid-type]
    kind: constr(regex=r"^(shipping|billing)$") = "shipping"  # type: ignore[valid-type]
    line1: constr(min_length=3, max_length=200)  # type: ignore[valid-type]
    city: constr(min_length=1, max_length=100)  # type: ignore[valid-type]
    region: constr(max_length=100) = ""  # type: ignore[valid-type]
    postal_code: constr(min_length=2, max_length=20, regex=r"^[A-Za-z0-9 \-]+$")  # type: ignore[valid-type]
    country: constr(regex=r"^[A-Z]{2}$")  # type: ignore[valid-type]


class PaymentMethodOut(Out):
    id: int
    kind: str
    brand: str
    last4: str
    exp_month: Optional[int]
    exp_year: Optional[int]
    holder: str
    masked: str


class QuickCheckoutOut(Out):
    id: int
    name: str
    shipping_method: str
    address: AddressOut
    payment_method: PaymentMethodOut


class QuoteOut(Out):
    number: str
    description: str
    total: Money
    created_on: dt.date
    expires_on: dt.date
    status: str


# --- orders and cart -------------------------------------------------------------------


class OrderLineOut(Out):
    sku: str
    description: str
    quantity: int
    unit_price: Money


class OrderOut(Out):
    number: str
    placed_at: dt.datetime
    channel: str
    status: str
    carrier: str
    tracking_number: str
    estimated_delivery: Optional[dt.date]
    total: Money
    lines: List[OrderLineOut]


class ReorderIn(Strict):
    order_number: constr(regex=ORDER_NUMBER)  # type: ignore[valid-type]


class CartItemOut(Out):
    sku: str
    description: str
    quantity: int
    unit_price: Money
    source_order_number: Optional[str]


class CartOut(Out):
    items: List[CartItemOut]
    total: Money
    added: List[CartItemOut] = []
    replayed: bool = False


# --- invoices --------------------------------------------------------------------------


class InvoiceOut(Out):
    number: str
    status: str
    issued_on: dt.date
    due_on: dt.date
    amount: Money
    order_number: Optional[str]
    paid_at: Optional[dt.datetime]


class InvoiceList(Out):
    invoices: List[InvoiceOut]
    total: Money
    count: int


class PaymentIn(Strict):
    payment_method_id: conint(ge=1, le=MAX_ID)  # type: ignore[valid-type]


class PaymentOut(Out):
    invoice: InvoiceOut
    amount: Money
    payment_method: PaymentMethodOut
    paid_at: dt.datetime
    replayed: bool = False


class Link(Out):
    url: str
    expires_at: dt.datetime
    filename: str


# --- devices, contracts, subscriptions --------------------------------------------------


class DeviceOut(Out):
    service_tag: str
    product: str
    shipped_on: dt.date
    warranty_plan: str
    warranty_end: dt.date
    warranty_status: str
    days_left: int


class PlanOut(Out):
    code: str
    name: str
    rank: int
    yearly_price: Money


class ContractOut(Out):
    number: str
    service_tag: str
    product: str
    plan: str
    plan_name: str
    starts_on: dt.date
    ends_on: dt.date
    status: str
    days_left: int


class ContractQuoteIn(Strict):
    service_tags: List[constr(min_length=1, max_length=20)] = Field(..., min_items=1, max_items=50)  # type: ignore[valid-type]
    plan: constr(regex=r"^(basic|prosupport|prosupport_plus)$")  # type: ignore[valid-type]
    years: Optional[conint(ge=1, le=5)] = None  # type: ignore[valid-type]

    @validator("service_tags", each_item=True)
    def _tag_shape(cls, value: str) -> str:
        tag = normalize_service_tag(value)
        if not re.match(SERVICE_TAG, tag):
            raise ValueError(f"{value!r} is not a service tag (7 letters or digits)")
        return tag


class ContractQuoteLine(Out):
    service_tag: str
    contract_number: str
    current_plan: str
    current_end: dt.date
    new_plan: str
    new_end: dt.date
    price: Money


class ContractQuoteOut(Out):
    kind: str
    plan: str
    years: Optional[int]
    lines: List[ContractQuoteLine]
    total: Money


class ContractChangeOut(Out):
    number: str
    kind: str
    quote: ContractQuoteOut
    replayed: bool = False


class SubscriptionOut(Out):
    product: str
    seats: int
    status: str
    renews_on: dt.date


# --- support, documents, reports --------------------------------------------------------


class TeamContactOut(Out):
    name: str
    title: str
    email: str
    phone: str


class ServiceRequestOut(Out):
    number: str
    service_tag: Optional[str]
    summary: str
    description: str
    status: str
    opened_at: dt.datetime
    closed_at: Optional[dt.datetime]


class ServiceRequestIn(Strict):
    service_tag: constr(min_length=1, max_length=20)  # type: ignore[valid-type]
    description: constr(min_length=5, max_length=2000)  # type: ignore[valid-type]

    @validator("service_tag")
    def _tag_shape(cls, value: str) -> str:
        tag = normalize_service_tag(value)
        if not re.match(SERVICE_TAG, tag):
            raise ValueError("a service tag is 7 letters or digits")
        return tag


class CreatedServiceRequest(ServiceRequestOut):
    replayed: bool = False


class DocumentOut(Out):
    id: int
    title: str
    kind: str
    published_on: dt.date


class ReportTypeOut(Out):
    type: str
    name: str


class ReportIn(Strict):
    type: constr(regex=r"^(purchase_history|spend|order_history)$")  # type: ignore[valid-type]
    starts_on: dt.date
    ends_on: dt.date

    @validator("ends_on")
    def _period(cls, value: dt.date, values: Dict[str, object]) -> dt.date:
        start = values.get("starts_on")
        if isinstance(start, dt.date):
            if value < start:
                raise ValueError("the period ends before it starts")
            if (value - start).days > 3 * 366:
                raise ValueError("a report covers at most three years")
        return value


class ReportOut(Out):
    id: int
    type: str
    starts_on: dt.date
    ends_on: dt.date
    rows: int
    link: Link
    replayed: bool = False


class SupportContactOut(Out):
    region: str
    phone: str
    email: str
    hours: str


# --- users ------------------------------------------------------------------------------


class UserOut(Out):
    id: int
    email: str
    name: str
    role: str
    status: str


class InviteIn(Strict):
    email: constr(max_length=254, regex=EMAIL)  # type: ignore[valid-type]
    role: constr(regex=r"^(site_admin|buyer|shopper)$")  # type: ignore[valid-type]
    name: Optional[constr(min_length=1, max_length=120)] = None  # type: ignore[valid-type]


class RoleChangeIn(Strict):
    role: constr(regex=r"^(site_admin|buyer|shopper)$")  # type: ignore[valid-type]


class UserChangeOut(UserOut):
    replayed: bool = False


class SsoRequestIn(Strict):
    identity_provider: constr(min_length=2, max_length=80)  # type: ignore[valid-type]
    note: constr(max_length=2000) = ""  # type: ignore[valid-type]


class SsoRequestOut(Out):
    id: int
    identity_provider: str
    status: str
    account_team: List[TeamContactOut]
    replayed: bool = False


class ChangeOut(Out):
    """A generic acknowledgement of an update, echoing the new state."""

    updated: Dict[str, Optional[str]]
    replayed: bool = False
