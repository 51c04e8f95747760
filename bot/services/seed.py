"""The demo world from DESIGN.md: the same accounts, people and history on every start.

Dates are laid relative to the day of seeding so that "the last 30 days",
"overdue" and "expires soon" stay true whenever the world is created; every
identifier is fixed.
"""

from __future__ import annotations

import datetime as dt
from typing import Dict, List

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.services import models as m

PLANS = [
    ("basic", "Basic", 1, 9_900),
    ("prosupport", "ProSupport", 2, 19_900),
    ("prosupport_plus", "ProSupport Plus", 3, 29_900),
]

SUPPORT_CONTACTS = [
    ("Americas", "+1 800 456 3355", "premier.americas@vendor.example", "Mon-Fri 7:00-19:00 CT"),
    ("EMEA", "+44 20 7946 0321", "premier.emea@vendor.example", "Mon-Fri 8:00-18:00 CET"),
    ("APJ", "+65 6800 1234", "premier.apj@vendor.example", "Mon-Fri 8:00-18:00 SGT"),
]

ACCOUNTS = [
    # name, customer no., type, country, currency, billing report, legal name, phone, groups
    (
        "Acme Corporation",
        "C-100234",
        "Premier",
        "US",
        "USD",
        True,
        "Acme Corporation Inc.",
        "+1 512 555 0100",
        ["Acme IT", "Acme Finance"],
    ),
    (
        "Globex México",
        "C-200871",
        "Premier",
        "MX",
        "MXN",
        True,
        "Globex México S.A. de C.V.",
        "+52 55 5555 0199",
        ["Globex Compras"],
    ),
    (
        "Initech GmbH",
        "C-300412",
        "Business",
        "DE",
        "EUR",
        False,
        "Initech GmbH",
        "+49 30 5555 0142",
        ["Initech Einkauf"],
    ),
    ("Hannah Home", "C-400019", "Home", "US", "USD", False, "Hannah Hill", "+1 206 555 0177", []),
]

PEOPLE = [
    # email, name, language, reporting access, staff role, [(account, role, group)]
    (
        "ana.admin@acme.example",
        "Ana Álvarez",
        "en",
        True,
        None,
        [("Acme Corporation", "site_admin", "Acme IT")],
    ),
    (
        "ben.buyer@acme.example",
        "Ben Baker",
        "en",
        False,
        None,
        [("Acme Corporation", "buyer", "Acme Finance")],
    ),
    (
        "sara.shopper@acme.example",
        "Sara Shah",
        "en",
        False,
        None,
        [("Acme Corporation", "shopper", "Acme IT")],
    ),
    (
        "diego.admin@globex.example",
        "Diego Domínguez",
        "es",
        True,
        None,
        [("Globex México", "site_admin", "Globex Compras"), ("Acme Corporation", "buyer", None)],
    ),
    (
        "lena.buyer@initech.example",
        "Lena Lang",
        "en",
        False,
        None,
        [("Initech GmbH", "buyer", "Initech Einkauf")],
    ),
    ("hannah@home.example", "Hannah Hill", "en", False, None, [("Hannah Home", "buyer", None)]),
    (
        "eve.rep@vendor.example",
        "Eve Reyes",
        "en",
        False,
        "account_team",
        [("Acme Corporation", "account_team", None), ("Globex México", "account_team", None)],
    ),
    ("sam.agent@vendor.example", "Sam Ortiz", "en", False, "support_agent", []),
]

SLACK_LINKS = [
    ("T0ACME", "U0ANA", "ana.admin@acme.example"),
    ("T0ACME", "U0BEN", "ben.buyer@acme.example"),
    ("T0ACME", "U0SARA", "sara.shopper@acme.example"),
    ("T0VENDOR", "U0EVE", "eve.rep@vendor.example"),
    ("T0VENDOR", "U0SAM", "sam.agent@vendor.example"),
]

CATALOG = {
    "LAT-5440": ("Latitude 5440 laptop", 1_249_00),
    "LAT-7440": ("Latitude 7440 laptop", 1_689_00),
    "OPT-7010": ("OptiPlex 7010 desktop", 899_00),
    "P2723DE": ("27-inch USB-C hub monitor P2723DE", 429_00),
    "WD19S": ("WD19S docking station", 239_00),
    "KM5221W": ("Wireless keyboard and mouse KM5221W", 49_00),
    "PE-R760": ("PowerEdge R760 rack server", 8_950_00),
    "XPS-13": ("XPS 13 laptop", 1_099_00),
}
# Rough fixed rates from the catalog's USD prices to each account's currency.
RATES = {"USD": 1.0, "MXN": 17.0, "EUR": 0.92}

# Per account: orders (days ago, status, channel, [(sku, qty)]), invoices
# (order index or None, issued days ago, due in days from issue, paid?),
# devices (tag, sku, shipped days ago, warranty days left, contract plan or
# None, contract days left), subscriptions, requests, documents, quotes.
HISTORY: Dict[str, dict] = {
    "Acme Corporation": {
        "prefix": 1,
        "orders": [
            (6, "processing", "online", [("LAT-5440", 10), ("WD19S", 10), ("KM5221W", 10)]),
            (18, "shipped", "online", [("P2723DE", 4), ("OPT-7010", 2)]),
            (25, "delivered", "phone", [("PE-R760", 1)]),
            (47, "delivered", "online", [("LAT-7440", 5), ("WD19S", 5)]),
            (95, "delivered", "online", [("OPT-7010", 12), ("P2723DE", 12)]),
            (160, "cancelled", "online", [("XPS-13", 2)]),
        ],
        "invoices": [
            (3, 40, 30, True),
            (4, 90, 30, True),
            (1, 15, 30, False),
            (2, 20, 45, False),
            (None, 70, 30, False),
        ],
        "devices": [
            ("7XK2M93", "LAT-7440", 47, 1048, "prosupport_plus", 1048),
            ("3FJ8K21", "OPT-7010", 95, 1000, "prosupport", 25),
            ("9QW4T72", "PE-R760", 25, 1070, "prosupport_plus", 50),
            ("H2L9P05", "LAT-5440", 800, -70, "basic", -70),
            ("C8N3V66", "P2723DE", 1200, -400, None, 0),
        ],
        "subscriptions": [
            ("Microsoft 365 Business Premium", 120, "active", 140),
            ("VMware vSphere Standard", 8, "active", 32),
            ("Adobe Acrobat Pro", 25, "expired", -12),
        ],
        "requests": [
            ("3FJ8K21", "Fan noise under load", "open", 4),
            ("9QW4T72", "Drive bay 3 amber light", "in_progress", 9),
            ("H2L9P05", "Battery replacement", "closed", 60),
        ],
        "team": [
            ("Maya Chen", "Account executive", "maya.chen@vendor.example", "+1 512 555 0141"),
            ("Eve Reyes", "Technical account manager", "eve.rep@vendor.example", "+1 512 555 0142"),
        ],
        "documents": [
            ("Premier contract terms 2026", "contract", 120),
            ("Quarterly business review Q3", "presentation", 35),
            ("Standard configuration catalog", "catalog", 10),
        ],
        "quotes": [
            ("Refresh of 40 Latitude laptops", 49_960_00, 5, 25, "open"),
            ("PowerEdge expansion", 17_900_00, 50, -20, "expired"),
        ],
        "addresses": [
            ("Headquarters", "shipping", "100 Congress Ave", "Austin", "TX", "78701"),
            ("Accounts payable", "billing", "PO Box 4410", "Austin", "TX", "78765"),
        ],
        "cards": [
            ("Visa", "4242", 8, 2028, "Acme Corporation"),
            ("Mastercard", "5454", 3, 2027, "Ben Baker"),
        ],
    },
    "Globex México": {
        "prefix": 2,
        "orders": [
            (9, "shipped", "online", [("LAT-5440", 6), ("KM5221W", 6)]),
            (21, "delivered", "online", [("P2723DE", 3)]),
            (64, "delivered", "online", [("OPT-7010", 8)]),
        ],
        "invoices": [(2, 60, 30, True), (1, 19, 30, False), (None, 50, 30, False)],
        "devices": [
            ("MX4R8T2", "LAT-5440", 9, 1086, "prosupport", 1086),
            ("MX7P2K9", "OPT-7010", 64, 1031, "basic", 40),
            ("MX1Z5Q3", "OPT-7010", 900, -170, None, 0),
        ],
        "subscriptions": [],
        "requests": [
            ("MX7P2K9", "No arranca después de actualizar BIOS", "open", 3),
            ("MX1Z5Q3", "Cambio de teclado", "closed", 120),
        ],
        "team": [
            (
                "Lucía Torres",
                "Ejecutiva de cuenta",
                "lucia.torres@vendor.example",
                "+52 55 5555 0180",
            )
        ],
        "documents": [
            ("Términos del contrato Premier", "contract", 200),
            ("Catálogo de configuraciones estándar", "catalog", 15),
        ],
        "quotes": [("Renovación de escritorios OptiPlex", 187_000_00, 12, 18, "open")],
        "addresses": [
            (
                "Oficina central",
                "shipping",
                "Av. Paseo de la Reforma 250",
                "Ciudad de México",
                "CDMX",
                "06600",
            )
        ],
        "cards": [("Visa", "1881", 11, 2027, "Globex México")],
    },
    "Initech GmbH": {
        "prefix": 3,
        "orders": [
            (12, "shipped", "online", [("LAT-7440", 3), ("WD19S", 3)]),
            (75, "delivered", "online", [("P2723DE", 6)]),
        ],
        "invoices": [(1, 70, 30, True), (0, 10, 30, False), (None, 45, 30, False)],
        "devices": [
            ("DE5T9W1", "LAT-7440", 12, 1083, "prosupport", 1083),
            ("DE2G6H8", "P2723DE", 75, 290, "basic", 20),
            ("DE8M1X4", "OPT-7010", 1300, -205, None, 0),
        ],
        "subscriptions": [],
        "requests": [("DE2G6H8", "Flickering display", "open", 2)],
        "team": [
            ("Jonas Weber", "Account executive", "jonas.weber@vendor.example", "+49 30 5555 0160")
        ],
        "documents": [("Rahmenvertrag 2026", "contract", 90)],
        "quotes": [("Docking stations for new hires", 2_080_00, 7, 23, "open")],
        "addresses": [("Zentrale", "shipping", "Friedrichstraße 68", "Berlin", "BE", "10117")],
        "cards": [("Mastercard", "7731", 6, 2028, "Initech GmbH")],
    },
    "Hannah Home": {
        "prefix": 4,
        "orders": [
            (14, "delivered", "online", [("XPS-13", 1)]),
            (200, "delivered", "online", [("KM5221W", 1)]),
        ],
        "invoices": [],
        "devices": [("HH3K7L2", "XPS-13", 14, 351, None, 0)],
        "subscriptions": [],
        "requests": [("HH3K7L2", "Wi-Fi drops after sleep", "closed", 6)],
        "team": [],
        "documents": [],
        "quotes": [],
        "addresses": [("Home", "shipping", "1200 Pine St", "Seattle", "WA", "98101")],
        "cards": [("Visa", "0057", 2, 2029, "Hannah Hill")],
    },
}

DOCUMENT_BODY = (
    "{title}\n\nPrepared by your account team for {account}.\n"
    "This document was published on {date} and is available to every user of the account."
)


def is_seeded(engine: Engine) -> bool:
    with Session(engine) as session:
        return bool(session.scalar(select(func.count()).select_from(m.Account)))


def seed(engine: Engine, today: dt.date | None = None) -> bool:
    """Create the demo world unless accounts already exist.

    Returns:
        True when the world was written, False when it was already there.
    """
    if is_seeded(engine):
        return False
    today = today or dt.date.today()
    now = dt.datetime.combine(today, dt.time(9, 30))
    with Session(engine) as session, session.begin():
        _seed(session, today, now)
    return True


def _seed(s: Session, today: dt.date, now: dt.datetime) -> None:
    for code, name, rank, price in PLANS:
        s.add(m.ContractPlan(code=code, name=name, rank=rank, yearly_price_cents=price))
    for region, phone, email, hours in SUPPORT_CONTACTS:
        s.add(m.SupportContact(region=region, phone=phone, email=email, hours=hours))

    accounts: Dict[str, m.Account] = {}
    groups: Dict[str, m.AccessGroup] = {}
    for name, number, kind, country, currency, billing, legal, phone, group_names in ACCOUNTS:
        account = m.Account(
            name=name,
            customer_number=number,
            type=kind,
            country=country,
            currency=currency,
            billing_report_enabled=billing,
            legal_name=legal,
            phone=phone,
            tax_id=f"TAX-{number[2:]}",
        )
        s.add(account)
        accounts[name] = account
        for group_name in group_names:
            groups[group_name] = m.AccessGroup(account=account, name=group_name)
            s.add(groups[group_name])
    s.flush()

    users: Dict[str, m.User] = {}
    for email, person, language, reporting, staff, memberships in PEOPLE:
        user = m.User(
            email=email,
            name=person,
            language=language,
            reporting_access=reporting,
            staff_role=staff,
            job_title="",
            phone="",
        )
        s.add(user)
        users[email] = user
        s.flush()
        for account_name, role, group_name in memberships:
            s.add(
                m.Membership(
                    user_id=user.id,
                    account_id=accounts[account_name].id,
                    role=role,
                    access_group_id=groups[group_name].id if group_name else None,
                )
            )
    for team, slack_user, email in SLACK_LINKS:
        s.add(m.SlackLink(team_id=team, slack_user_id=slack_user, user_id=users[email].id))

    for account_name, history in HISTORY.items():
        placer = next(
            users[email]
            for email, *_rest, memberships in PEOPLE
            if any(a == account_name and r != "account_team" for a, r, _g in memberships)
        )
        _seed_history(s, accounts[account_name], history, placer, today, now)


def _price(sku: str, currency: str) -> int:
    return round(CATALOG[sku][1] * RATES[currency])


def _seed_history(
    s: Session, account: m.Account, h: dict, placer: m.User, today: dt.date, now: dt.datetime
) -> None:
    days = dt.timedelta
    p = h["prefix"]
    orders: List[m.Order] = []
    for i, (ago, status, channel, lines) in enumerate(h["orders"], start=1):
        order = m.Order(
            number=f"{p}{i:08d}",
            account_id=account.id,
            placed_at=now - days(days=ago),
            channel=channel,
            status=status,
            placed_by_id=placer.id,
            carrier="UPS" if status in {"shipped", "delivered"} else "",
            tracking_number=f"1Z{p}{i:014d}" if status in {"shipped", "delivered"} else "",
            estimated_delivery=(today - days(days=ago) + days(days=7))
            if status != "cancelled"
            else None,
        )
        for sku, qty in lines:
            order.lines.append(
                m.OrderLine(
                    sku=sku,
                    description=CATALOG[sku][0],
                    quantity=qty,
                    unit_price_cents=_price(sku, account.currency),
                )
            )
        s.add(order)
        orders.append(order)
    s.flush()

    for i, (order_index, issued_ago, terms, paid) in enumerate(h["invoices"], start=1):
        order = orders[order_index] if order_index is not None else None
        amount = (
            sum(line.quantity * line.unit_price_cents for line in order.lines)
            if order
            else round(3_450_00 * RATES[account.currency])
        )
        issued = today - days(days=issued_ago)
        s.add(
            m.Invoice(
                number=f"INV-{p}{i:07d}",
                account_id=account.id,
                order_id=order.id if order else None,
                issued_on=issued,
                due_on=issued + days(days=terms),
                amount_cents=amount,
                paid_at=now - days(days=max(issued_ago - 10, 1)) if paid else None,
            )
        )

    devices: Dict[str, m.Device] = {}
    for i, (tag, sku, shipped_ago, warranty_left, plan, contract_left) in enumerate(
        h["devices"], start=1
    ):
        device = m.Device(
            service_tag=tag,
            account_id=account.id,
            product=CATALOG[sku][0],
            shipped_on=today - days(days=shipped_ago),
            warranty_plan=plan or "basic",
            warranty_end=today + days(days=warranty_left),
        )
        s.add(device)
        devices[tag] = device
        s.flush()
        if plan:
            s.add(
                m.ServiceContract(
                    number=f"SC-{p}{i:07d}",
                    account_id=account.id,
                    device_id=device.id,
                    plan_code=plan,
                    starts_on=today - days(days=shipped_ago),
                    ends_on=today + days(days=contract_left),
                )
            )

    for product, seats, status, renews in h["subscriptions"]:
        s.add(
            m.Subscription(
                account_id=account.id,
                product=product,
                seats=seats,
                status=status,
                renews_on=today + days(days=renews),
            )
        )
    for i, (tag, summary, status, ago) in enumerate(h["requests"], start=1):
        s.add(
            m.ServiceRequest(
                number=f"{p}{i:09d}",
                account_id=account.id,
                device_id=devices[tag].id,
                summary=summary,
                description=summary,
                status=status,
                opened_at=now - days(days=ago),
                closed_at=now - days(days=max(ago - 3, 0)) if status == "closed" else None,
            )
        )
    for name, title, email, phone in h["team"]:
        s.add(
            m.AccountTeamContact(
                account_id=account.id, name=name, title=title, email=email, phone=phone
            )
        )
    for title, kind, ago in h["documents"]:
        published = today - days(days=ago)
        s.add(
            m.Document(
                account_id=account.id,
                title=title,
                kind=kind,
                published_on=published,
                body=DOCUMENT_BODY.format(title=title, account=account.name, date=published),
            )
        )
    for i, (description, total, created_ago, expires_in, status) in enumerate(h["quotes"], 1):
        s.add(
            m.Quote(
                number=f"Q-{p}{i:07d}",
                account_id=account.id,
                description=description,
                total_cents=round(total * RATES[account.currency])
                if account.currency != "MXN"
                else total,
                created_on=today - days(days=created_ago),
                expires_on=today + days(days=expires_in),
                status=status,
            )
        )
    addresses = []
    for label, kind, line1, city, region, postal in h["addresses"]:
        address = m.Address(
            account_id=account.id,
            label=label,
            kind=kind,
            line1=line1,
            city=city,
            region=region,
            postal_code=postal,
            country=account.country,
        )
        s.add(address)
        addresses.append(address)
    cards = []
    for brand, last4, month, year, holder in h["cards"]:
        card = m.PaymentMethod(
            account_id=account.id,
            brand=brand,
            last4=last4,
            exp_month=month,
            exp_year=year,
            holder=holder,
        )
        s.add(card)
        cards.append(card)
    s.flush()
    if addresses and cards:
        s.add(
            m.QuickCheckoutProfile(
                account_id=account.id,
                name="Standard",
                address_id=addresses[0].id,
                payment_method_id=cards[0].id,
                shipping_method="Ground (3-5 business days)",
            )
        )
