"""The account services' tables (SQLAlchemy declarative; works on 1.4 and 2.x).

Money is stored in minor units (cents) with the account's currency. Card data is
stored masked only: brand, last four digits and expiry.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Account(Base):
    __tablename__ = "accounts"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False, unique=True)
    customer_number = Column(String(20), nullable=False, unique=True)
    type = Column(String(20), nullable=False)  # Premier | Business | Home
    country = Column(String(2), nullable=False)
    currency = Column(String(3), nullable=False)
    billing_report_enabled = Column(Boolean, nullable=False, default=False)
    legal_name = Column(String(200), nullable=False)
    phone = Column(String(40), nullable=False, default="")
    tax_id = Column(String(40), nullable=False, default="")
    access_groups = relationship("AccessGroup", back_populates="account", order_by="AccessGroup.id")

    @property
    def settings(self) -> frozenset:
        return frozenset({"billing_report_enabled"} if self.billing_report_enabled else ())


class AccessGroup(Base):
    __tablename__ = "access_groups"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    name = Column(String(120), nullable=False)
    account = relationship("Account", back_populates="access_groups")


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)
    name = Column(String(120), nullable=False)
    language = Column(String(2), nullable=False, default="en")
    phone = Column(String(40), nullable=False, default="")
    job_title = Column(String(120), nullable=False, default="")
    reporting_access = Column(Boolean, nullable=False, default=False)
    # Vendor staff: "account_team" or "support_agent"; None for customers.
    staff_role = Column(String(20), nullable=True)
    status = Column(String(20), nullable=False, default="active")  # active|invited|deactivated

    @property
    def flags(self) -> frozenset:
        return frozenset({"reporting_access"} if self.reporting_access else ())


class Membership(Base):
    """A user's role in one account (customer roles, or an account-team assignment)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "account_id"),)
    id = Column(Integer, primary_key=True)
    user_id = Column(ForeignKey("users.id"), nullable=False, index=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    role = Column(String(20), nullable=False)
    access_group_id = Column(ForeignKey("access_groups.id"), nullable=True)
    status = Column(String(20), nullable=False, default="active")
    user = relationship("User")
    account = relationship("Account")
    access_group = relationship("AccessGroup")


class SlackLink(Base):
    __tablename__ = "slack_links"
    __table_args__ = (UniqueConstraint("team_id", "slack_user_id"),)
    id = Column(Integer, primary_key=True)
    team_id = Column(String(20), nullable=False)
    slack_user_id = Column(String(20), nullable=False)
    user_id = Column(ForeignKey("users.id"), nullable=False)


class Address(Base):
    __tablename__ = "addresses"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    label = Column(String(80), nullable=False)
    kind = Column(String(20), nullable=False, default="shipping")  # shipping | billing
    line1 = Column(String(200), nullable=False)
    city = Column(String(100), nullable=False)
    region = Column(String(100), nullable=False, default="")
    postal_code = Column(String(20), nullable=False)
    country = Column(String(2), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class PaymentMethod(Base):
    __tablename__ = "payment_methods"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    kind = Column(String(20), nullable=False, default="card")  # card | purchase_order
    brand = Column(String(30), nullable=False)
    last4 = Column(String(4), nullable=False)
    exp_month = Column(Integer, nullable=True)
    exp_year = Column(Integer, nullable=True)
    holder = Column(String(120), nullable=False)


class QuickCheckoutProfile(Base):
    __tablename__ = "quick_checkout_profiles"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    name = Column(String(80), nullable=False)
    address_id = Column(ForeignKey("addresses.id"), nullable=False)
    payment_method_id = Column(ForeignKey("payment_methods.id"), nullable=False)
    shipping_method = Column(String(40), nullable=False)
    address = relationship("Address")
    payment_method = relationship("PaymentMethod")


class Quote(Base):
    __tablename__ = "quotes"
    id = Column(Integer, primary_key=True)
    number = Column(String(12), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    description = Column(String(200), nullable=False)
    total_cents = Column(Integer, nullable=False)
    created_on = Column(Date, nullable=False)
    expires_on = Column(Date, nullable=False)
    status = Column(String(20), nullable=False)  # open | accepted | expired


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    number = Column(String(9), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    placed_by_id = Column(ForeignKey("users.id"), nullable=True)
    placed_at = Column(DateTime, nullable=False)
    channel = Column(String(20), nullable=False, default="online")  # online | phone
    status = Column(String(20), nullable=False)  # processing | shipped | delivered | cancelled
    carrier = Column(String(40), nullable=False, default="")
    tracking_number = Column(String(40), nullable=False, default="")
    estimated_delivery = Column(Date, nullable=True)
    lines = relationship("OrderLine", back_populates="order", order_by="OrderLine.id")


class OrderLine(Base):
    __tablename__ = "order_lines"
    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(40), nullable=False)
    description = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)
    order = relationship("Order", back_populates="lines")


class CartItem(Base):
    """One line in a person's cart for one account."""

    __tablename__ = "cart_items"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    user_id = Column(ForeignKey("users.id"), nullable=False, index=True)
    sku = Column(String(40), nullable=False)
    description = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)
    source_order_number = Column(String(9), nullable=True)
    added_at = Column(DateTime, nullable=False, default=utcnow)


class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    number = Column(String(12), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    order_id = Column(ForeignKey("orders.id"), nullable=True)
    issued_on = Column(Date, nullable=False)
    due_on = Column(Date, nullable=False)
    amount_cents = Column(Integer, nullable=False)
    paid_at = Column(DateTime, nullable=True)
    order = relationship("Order")

    def status_on(self, today: dt.date) -> str:
        if self.paid_at is not None:
            return "paid"
        return "overdue" if self.due_on < today else "unpaid"


class Payment(Base):
    __tablename__ = "payments"
    id = Column(Integer, primary_key=True)
    invoice_id = Column(ForeignKey("invoices.id"), nullable=False, unique=True)
    payment_method_id = Column(ForeignKey("payment_methods.id"), nullable=False)
    user_id = Column(ForeignKey("users.id"), nullable=False)
    amount_cents = Column(Integer, nullable=False)
    paid_at = Column(DateTime, nullable=False, default=utcnow)


class ContractPlan(Base):
    __tablename__ = "contract_plans"
    code = Column(String(30), primary_key=True)
    name = Column(String(60), nullable=False)
    rank = Column(Integer, nullable=False)  # higher = more coverage; upgrades go up only
    yearly_price_cents = Column(Integer, nullable=False)  # per device, in USD cents


class Device(Base):
    __tablename__ = "devices"
    id = Column(Integer, primary_key=True)
    service_tag = Column(String(7), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    product = Column(String(120), nullable=False)
    shipped_on = Column(Date, nullable=False)
    warranty_plan = Column(String(30), nullable=False)
    warranty_end = Column(Date, nullable=False)


class ServiceContract(Base):
    """One support contract covering one device."""

    __tablename__ = "service_contracts"
    id = Column(Integer, primary_key=True)
    number = Column(String(12), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    device_id = Column(ForeignKey("devices.id"), nullable=False, unique=True)
    plan_code = Column(ForeignKey("contract_plans.code"), nullable=False)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    device = relationship("Device")
    plan = relationship("ContractPlan")


class ContractChange(Base):
    """A confirmed renewal or upgrade of contracts, priced at the time it was made."""

    __tablename__ = "contract_changes"
    id = Column(Integer, primary_key=True)
    number = Column(String(12), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    user_id = Column(ForeignKey("users.id"), nullable=False)
    kind = Column(String(10), nullable=False)  # renewal | upgrade
    plan_code = Column(ForeignKey("contract_plans.code"), nullable=False)
    years = Column(Integer, nullable=True)
    service_tags = Column(JSON, nullable=False)
    total_cents = Column(Integer, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    product = Column(String(120), nullable=False)
    seats = Column(Integer, nullable=False)
    status = Column(String(20), nullable=False)  # active | expired
    renews_on = Column(Date, nullable=False)


class AccountTeamContact(Base):
    __tablename__ = "account_team_contacts"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    name = Column(String(120), nullable=False)
    title = Column(String(120), nullable=False)
    email = Column(String(254), nullable=False)
    phone = Column(String(40), nullable=False)


class ServiceRequest(Base):
    __tablename__ = "service_requests"
    id = Column(Integer, primary_key=True)
    number = Column(String(10), nullable=False, unique=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    device_id = Column(ForeignKey("devices.id"), nullable=True)
    opened_by_id = Column(ForeignKey("users.id"), nullable=True)
    summary = Column(String(200), nullable=False)
    description = Column(Text, nullable=False)
    status = Column(String(20), nullable=False)  # open | in_progress | closed
    opened_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime, nullable=True)
    device = relationship("Device")


class Document(Base):
    __tablename__ = "documents"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    title = Column(String(200), nullable=False)
    kind = Column(String(40), nullable=False)
    published_on = Column(Date, nullable=False)
    body = Column(Text, nullable=False)


class Report(Base):
    __tablename__ = "reports"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    user_id = Column(ForeignKey("users.id"), nullable=False)
    type = Column(String(30), nullable=False)  # purchase_history | spend | order_history
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class SsoRequest(Base):
    __tablename__ = "sso_requests"
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    user_id = Column(ForeignKey("users.id"), nullable=False)
    identity_provider = Column(String(80), nullable=False)
    note = Column(Text, nullable=False, default="")
    status = Column(String(20), nullable=False, default="submitted")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class SupportContact(Base):
    """Regional Premier support contacts; public."""

    __tablename__ = "support_contacts"
    region = Column(String(10), primary_key=True)  # Americas | EMEA | APJ
    phone = Column(String(40), nullable=False)
    email = Column(String(254), nullable=False)
    hours = Column(String(120), nullable=False)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    user_id = Column(Integer, nullable=True)
    email = Column(String(254), nullable=True)
    role = Column(String(20), nullable=True)
    account_id = Column(Integer, nullable=True)
    channel = Column(String(20), nullable=False)
    action = Column(String(60), nullable=False)
    target = Column(String(120), nullable=False, default="")
    outcome = Column(String(20), nullable=False)  # ok | not_found | denied
    detail = Column(JSON, nullable=False, default=dict)


class IdempotencyRecord(Base):
    """The stored answer to a write, replayed when its key comes again."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, nullable=False)
    key = Column(String(100), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer, nullable=False)
    body = Column(JSON, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Handoff(Base):
    """A conversation handed to the support desk: the queue entry, its claim and its outcome.

    `state`: waiting -> claimed -> closed; waiting -> cancelled | converted; claimed -> waiting
    (released, or the console agent went silent). `version` grows on every state change.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_state_created_at", "state", "created_at"),
        # At most one open handoff per person and conversation; also how it is found.
        Index(
            "ix_handoffs_user_id_conversation_id",
            "user_id",
            "conversation_id",
            unique=True,
            sqlite_where=text("state IN ('waiting', 'claimed')"),
            postgresql_where=text("state IN ('waiting', 'claimed')"),
        ),
    )
    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    user_id = Column(ForeignKey("users.id"), nullable=False)  # the customer
    role = Column(String(20), nullable=False)  # the customer's role when they asked
    conversation_id = Column(String(200), nullable=False)
    channel = Column(String(20), nullable=False)  # widget | slack | portal
    language = Column(String(2), nullable=False)
    reason = Column(String(20), nullable=False)  # asked | not_understood | services_down
    topic = Column(String(80), nullable=True)
    slots = Column(JSON, nullable=False, default=dict)
    state = Column(String(20), nullable=False, default="waiting")
    version = Column(Integer, nullable=False, default=1)
    agent_id = Column(ForeignKey("users.id"), nullable=True)
    agent_channel = Column(String(20), nullable=True)  # console | slack
    claimed_at = Column(DateTime, nullable=True)
    agent_seen_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)
    outcome = Column(String(30), nullable=True)
    note = Column(Text, nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    account = relationship("Account")
    user = relationship("User", foreign_keys=[user_id])
    agent = relationship("User", foreign_keys=[agent_id])
    messages = relationship("HandoffMessage", order_by="HandoffMessage.id")

    def agent_away(self, now: dt.datetime, grace_seconds: float) -> bool:
        """Claimed from the console by an agent not seen for longer than `grace_seconds`.

        A Slack claim has no connection to lose, so it never goes away on its own.
        """
        return (
            self.state == "claimed"
            and self.agent_channel == "console"
            and self.agent_seen_at is not None
            and (now - self.agent_seen_at).total_seconds() > grace_seconds
        )


class HandoffMessage(Base):
    """One line of a handoff's transcript (masked): customer, assistant, agent or system."""

    __tablename__ = "handoff_messages"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(ForeignKey("handoffs.id"), nullable=False, index=True)
    who = Column(String(20), nullable=False)  # customer | assistant | agent | system
    author_id = Column(ForeignKey("users.id"), nullable=True)
    author = Column(String(120), nullable=True)
    text = Column(Text, nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)
