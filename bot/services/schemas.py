"""The wire contract of the account services: request and response bodies.

The typed client parses responses into these same models, so the two sides
cannot drift. Request bodies refuse unknown fields and are strictly typed: a
string field takes only a JSON string, an integer only a JSON integer (never a
float, a boolean or a numeric string), a date only a "YYYY-MM-DD" string, and a
body only a JSON object. Integers in paths and queries are ASCII digits only
(`Id`, `Days`). Text refuses the characters that hide or reorder what a person
reads (`visible_text`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any, Callable, Dict, Generator, List, Optional, Type, Union

from pydantic import (
    BaseModel,
    ConstrainedStr,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    conint,
    validator,
)
from pydantic.datetime_parse import parse_datetime
from pydantic.validators import strict_str_validator

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
# The chat channel a request entered through (the action server names its turn's channel), for
# the audit log; a request without it entered through the HTTP API itself ("api").
CHANNEL_HEADER = "Premier-Channel"
# A support agent reads a customer's account through a handoff they hold (docs/handoff.md):
# the services admit it, read-only, only while that agent holds that handoff.
HANDOFF_HEADER = "Premier-Handoff"


def normalize_service_tag(raw: str) -> str:
    """'7xk-2m93' -> '7XK2M93': users type tags in any case, with spaces or dashes."""
    return re.sub(r"[\s\-]", "", raw).upper()


MAX_ID = 2**31 - 1
# Characters that reorder text on screen (embeddings, overrides, isolates): refused everywhere.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
FREE_TEXT_WHITESPACE = frozenset("\t\n\r")


def visible_text(value: str, *, free_text: bool = False) -> str:
    """Refuse characters that hide or reorder what a person reads.

    Names, labels and codes take no control character at all (tab and line breaks
    included) and no line or paragraph separator; free text (a description, a note)
    may also hold tabs and line breaks. Bidirectional embeddings, overrides and
    isolates (U+202A-U+202E, U+2066-U+2069) are refused in both.
    """
    for char in value:
        if char in BIDI_CONTROLS:
            raise ValueError(f"contains a bidirectional control character (U+{ord(char):04X})")
        category = unicodedata.category(char)
        if category == "Cc" and not (free_text and char in FREE_TEXT_WHITESPACE):
            raise ValueError(f"contains a control character (U+{ord(char):04X})")
        if category in ("Zl", "Zp") and not free_text:
            raise ValueError(f"contains a line break (U+{ord(char):04X})")
    return value


class Line(ConstrainedStr):
    """A JSON string and nothing else (no number, no boolean), of one visible line."""

    strict = True
    free_text = False

    @classmethod
    def __get_validators__(cls) -> Generator[Callable[..., Any], None, None]:
        yield strict_str_validator
        yield cls.visible  # before whitespace is stripped: a trailing control is refused too
        yield from super().__get_validators__()

    @classmethod
    def visible(cls, value: str) -> str:
        return visible_text(value, free_text=cls.free_text)


def line(
    *, min_length: Optional[int] = None, max_length: Optional[int] = None, regex: str = ""
) -> Type[str]:
    """A name, a label or a code: a strict string of one visible line."""
    namespace = {"min_length": min_length, "max_length": max_length}
    if regex:
        namespace["regex"] = re.compile(regex)  # type: ignore[assignment]
    return type("LineValue", (Line,), namespace)


def free_text(*, min_length: Optional[int] = None, max_length: Optional[int] = None) -> Type[str]:
    """A description or a note: a strict string that may hold tabs and line breaks."""
    namespace = {"min_length": min_length, "max_length": max_length, "free_text": True}
    return type("FreeTextValue", (Line,), namespace)


class Day(dt.date):
    """A date in a request body: only an ISO "YYYY-MM-DD" string (never a timestamp number)."""

    @classmethod
    def __get_validators__(cls) -> Generator[Callable[..., Any], None, None]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: Dict[str, Any]) -> None:
        field_schema.update(type="string", format="date")

    @classmethod
    def validate(cls, value: Any) -> dt.date:
        if not isinstance(value, str):
            raise TypeError("a date is a string YYYY-MM-DD")
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("a date is written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a date of the calendar") from None


ISO_MOMENT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?"


class Moment(dt.datetime):
    """A moment in a request body: only an ISO 8601 string (never a number), stored as naive UTC."""

    @classmethod
    def __get_validators__(cls) -> Generator[Callable[..., Any], None, None]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: Dict[str, Any]) -> None:
        field_schema.update(type="string", format="date-time")

    @classmethod
    def validate(cls, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise TypeError("a moment is an ISO 8601 string")
        if not re.fullmatch(ISO_MOMENT, value):
            raise ValueError("a moment is written YYYY-MM-DDTHH:MM:SS with an optional offset")
        try:
            moment = parse_datetime(value)
        except (ValueError, TypeError):
            raise ValueError(f"{value} is not a moment of the calendar") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return moment


class Digits(int):
    """A whole number in a path or a query: ASCII digits only, within [ge, le].

    No sign, no spaces, no underscores, no decimal point, no other script's digits:
    `int()` would take "+1", " 1", "1_0" and "١"; this does not.
    """

    ge = 1
    le = MAX_ID

    @classmethod
    def __get_validators__(cls) -> Generator[Callable[..., Any], None, None]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: Dict[str, Any]) -> None:
        field_schema.update(type="integer", minimum=cls.ge, maximum=cls.le)

    @classmethod
    def validate(cls, value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.isascii() and value.isdigit():
            if len(value) > len(str(cls.le)) + 2:
                raise ValueError(f"must be between {cls.ge} and {cls.le}")
            number = int(value)
        else:
            raise TypeError(
                "must be a whole number in ASCII digits (no sign, spaces or separators)"
            )
        if not cls.ge <= number <= cls.le:
            raise ValueError(f"must be between {cls.ge} and {cls.le}")
        return number


class Id(Digits):
    """An object's id in a path: 1 to MAX_ID, ASCII digits only."""


class Days(Digits):
    """A number of days back in a query: 1 to 3650, ASCII digits only."""

    le = 3650


def _check_text(value: Any) -> None:
    """Refuse text no database can store faithfully: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character (U+0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid text (a lone surrogate)") from None
    elif isinstance(value, dict):
        for item in value.values():
            _check_text(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_text(item)


def _declare_nulls(schema: Dict[str, Any], model: Type[BaseModel]) -> None:
    """Say in the published schema which fields take null (an optional field left unchanged)."""
    for name, prop in list(schema.get("properties", {}).items()):
        field = model.__fields__.get(name)
        if field is not None and field.allow_none:
            outer = {k: prop.pop(k) for k in ("title", "description", "default") if k in prop}
            schema["properties"][name] = {"anyOf": [prop, {"type": "null"}], **outer}


class Strict(BaseModel):
    """Request bodies: a JSON object, unknown fields refused, text checked before a database."""

    class Config:
        extra = "forbid"
        anystr_strip_whitespace = True
        schema_extra = staticmethod(_declare_nulls)

    @classmethod
    def validate(cls: Type[Any], value: Any) -> Any:
        if not isinstance(value, dict):  # pydantic would take a list of pairs as an object
            raise TypeError("the body must be a JSON object")
        return super().validate(value)

    @validator("*", pre=True)
    def _storable_text(cls, value: Any) -> Any:
        _check_text(value)  # per field, so that the error names it
        return value


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
    account: line(min_length=1, max_length=120)  # type: ignore[valid-type]


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
    legal_name: Optional[line(min_length=2, max_length=200)]  # type: ignore[valid-type]
    phone: Optional[line(min_length=5, max_length=40, regex=r"^[0-9+()\- .]+$")]  # type: ignore[valid-type]
    tax_id: Optional[line(min_length=2, max_length=40)]  # type: ignore[valid-type]


class Profile(Out):
    name: str
    email: str
    phone: str
    job_title: str
    language: str


class ProfileUpdate(Strict):
    name: Optional[line(min_length=1, max_length=120)]  # type: ignore[valid-type]
    phone: Optional[line(min_length=5, max_length=40, regex=r"^[0-9+()\- .]+$")]  # type: ignore[valid-type]
    job_title: Optional[line(max_length=120)]  # type: ignore[valid-type]
    language: Optional[line(regex=r"^(en|es)$")]  # type: ignore[valid-type]


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
    label: line(min_length=1, max_length=80)  # type: ignore[valid-type]
    kind: line(regex=r"^(shipping|billing)$") = "shipping"  # type: ignore[valid-type]
    line1: line(min_length=3, max_length=200)  # type: ignore[valid-type]
    city: line(min_length=1, max_length=100)  # type: ignore[valid-type]
    region: line(max_length=100) = ""  # type: ignore[valid-type]
    postal_code: line(min_length=2, max_length=20, regex=r"^[A-Za-z0-9 \-]+$")  # type: ignore[valid-type]
    country: line(regex=r"^[A-Z]{2}$")  # type: ignore[valid-type]


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
    order_number: line(regex=ORDER_NUMBER)  # type: ignore[valid-type]


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
    payment_method_id: conint(strict=True, ge=1, le=MAX_ID)  # type: ignore[valid-type]


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
    service_tags: List[line(min_length=1, max_length=20)] = Field(..., min_items=1, max_items=50)  # type: ignore[valid-type]
    plan: line(regex=r"^(basic|prosupport|prosupport_plus)$")  # type: ignore[valid-type]
    years: Optional[conint(strict=True, ge=1, le=5)] = None  # type: ignore[valid-type]

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
    service_tag: line(min_length=1, max_length=20)  # type: ignore[valid-type]
    description: free_text(min_length=5, max_length=2000)  # type: ignore[valid-type]

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
    type: line(regex=r"^(purchase_history|spend|order_history)$")  # type: ignore[valid-type]
    starts_on: Day
    ends_on: Day

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
    email: line(max_length=254, regex=EMAIL)  # type: ignore[valid-type]
    role: line(regex=r"^(site_admin|buyer|shopper)$")  # type: ignore[valid-type]
    name: Optional[line(min_length=1, max_length=120)] = None  # type: ignore[valid-type]


class RoleChangeIn(Strict):
    role: line(regex=r"^(site_admin|buyer|shopper)$")  # type: ignore[valid-type]


class UserChangeOut(UserOut):
    replayed: bool = False


class SsoRequestIn(Strict):
    identity_provider: line(min_length=2, max_length=80)  # type: ignore[valid-type]
    note: free_text(max_length=2000) = ""  # type: ignore[valid-type]


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


# --- session lifetime (POST /me/token) ------------------------------------------------------


class TokenOut(Out):
    """A renewed token for the same session; it never outlives `session_ends_at`."""

    token: str
    expires_at: dt.datetime
    session_ends_at: dt.datetime


# --- the handoff desk (docs/handoff.md) -------------------------------------------------------

HANDOFF_STATES = ("waiting", "claimed", "closed", "cancelled", "converted")
HANDOFF_OUTCOMES = ("resolved", "unresolved", "service_request_opened")
MAX_SLOTS = 50
MAX_TRANSCRIPT = 200
MAX_HANDOFF_TEXT = 2000
SLOT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
ConversationId = line(min_length=1, max_length=200)
SlotValue = Union[StrictBool, StrictInt, StrictFloat, free_text(max_length=MAX_HANDOFF_TEXT), None]  # type: ignore[valid-type]


class TranscriptLine(Strict):
    """One line of the conversation before the handoff, as the assistant kept it."""

    who: line(regex=r"^(customer|assistant)$")  # type: ignore[valid-type]
    text: free_text(min_length=1, max_length=MAX_HANDOFF_TEXT)  # type: ignore[valid-type]
    at: Moment


class HandoffCreate(Strict):
    conversation_id: ConversationId  # type: ignore[valid-type]
    channel: line(regex=r"^(widget|slack|portal)$")  # type: ignore[valid-type]
    language: line(regex=r"^(en|es)$")  # type: ignore[valid-type]
    reason: line(regex=r"^(asked|not_understood|services_down)$")  # type: ignore[valid-type]
    topic: Optional[line(min_length=1, max_length=80)] = None  # type: ignore[valid-type]
    slots: Dict[line(regex=SLOT_NAME), SlotValue] = Field(default_factory=dict)  # type: ignore[valid-type]
    transcript: List[TranscriptLine] = Field(default_factory=list, max_items=MAX_TRANSCRIPT)

    @validator("slots", pre=True)
    def _slots_are_an_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):  # pydantic would take a list of pairs as an object
            raise TypeError("slots must be a JSON object")
        return value

    @validator("slots")
    def _few_slots(cls, value: Dict[str, Any]) -> Dict[str, Any]:
        if len(value) > MAX_SLOTS:
            raise ValueError(f"at most {MAX_SLOTS} slots")
        return value


class HandoffStatus(Out):
    """What the customer's side knows of a handoff."""

    id: int
    state: str
    position: Optional[int]
    expected_wait_seconds: Optional[int]
    waited_seconds: int
    agent_name: Optional[str]
    language: str
    created_at: dt.datetime
    claimed_at: Optional[dt.datetime]
    closed_at: Optional[dt.datetime]
    outcome: Optional[str]
    version: int


class HandoffSummary(Out):
    """A handoff as the desk's queue lists it."""

    id: int
    state: str
    account_name: str
    person_name: str
    role: str
    language: str
    channel: str
    reason: str
    topic: Optional[str]
    created_at: dt.datetime
    waited_seconds: int
    position: Optional[int]
    agent_name: Optional[str]


class HandoffMessageIn(Strict):
    text: free_text(min_length=1, max_length=MAX_HANDOFF_TEXT)  # type: ignore[valid-type]


class HandoffMessageOut(Out):
    id: int
    who: str
    author: Optional[str]
    text: str
    at: dt.datetime


class HandoffDetail(HandoffSummary):
    """A handoff with its context and transcript, for the agent holding it."""

    conversation_id: str
    account_id: int
    country: str
    slots: Dict[str, Any]
    messages: List[HandoffMessageOut]
    outcome: Optional[str]
    note: Optional[str]


class HandoffClose(Strict):
    outcome: line(regex=r"^(resolved|unresolved|service_request_opened)$")  # type: ignore[valid-type]
    note: Optional[free_text(max_length=MAX_HANDOFF_TEXT)] = None  # type: ignore[valid-type]


class DeskQueue(Out):
    waiting: List[HandoffSummary]
    mine: List[HandoffSummary]
