"""Turning rows into the wire models of `schemas` (money, computed statuses)."""

from __future__ import annotations

import datetime as dt

from bot.services import models as m
from bot.services import schemas as s


def money(cents: int, currency: str) -> s.Money:
    return s.Money(cents=cents, currency=currency)


def account(a: m.Account) -> s.AccountOut:
    return s.AccountOut(
        id=a.id,
        name=a.name,
        customer_number=a.customer_number,
        type=a.type,
        country=a.country,
        currency=a.currency,
        legal_name=a.legal_name,
        phone=a.phone,
        tax_id=a.tax_id,
        billing_report_enabled=a.billing_report_enabled,
        access_groups=[g.name for g in a.access_groups],
    )


def payment_method(p: m.PaymentMethod) -> s.PaymentMethodOut:
    expiry = f" exp {p.exp_month:02d}/{p.exp_year % 100:02d}" if p.exp_month and p.exp_year else ""
    return s.PaymentMethodOut(
        id=p.id,
        kind=p.kind,
        brand=p.brand,
        last4=p.last4,
        exp_month=p.exp_month,
        exp_year=p.exp_year,
        holder=p.holder,
        masked=f"{p.brand} •••• {p.last4}{expiry}",
    )


def order(o: m.Order, currency: str) -> s.OrderOut:
    lines = [
        s.OrderLineOut(
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            unit_price=money(line.unit_price_cents, currency),
        )
        for line in o.lines
    ]
    total = sum(line.quantity * line.unit_price_cents for line in o.lines)
    return s.OrderOut(
        number=o.number,
        placed_at=o.placed_at,
        channel=o.channel,
        status=o.status,
        carrier=o.carrier,
        tracking_number=o.tracking_number,
        estimated_delivery=o.estimated_delivery,
        total=money(total, currency),
        lines=lines,
    )


def cart_item(c: m.CartItem, currency: str) -> s.CartItemOut:
    return s.CartItemOut(
        sku=c.sku,
        description=c.description,
        quantity=c.quantity,
        unit_price=money(c.unit_price_cents, currency),
        source_order_number=c.source_order_number,
    )


def invoice(i: m.Invoice, currency: str, today: dt.date) -> s.InvoiceOut:
    return s.InvoiceOut(
        number=i.number,
        status=i.status_on(today),
        issued_on=i.issued_on,
        due_on=i.due_on,
        amount=money(i.amount_cents, currency),
        order_number=i.order.number if i.order else None,
        paid_at=i.paid_at,
    )


def device(d: m.Device, today: dt.date) -> s.DeviceOut:
    days_left = (d.warranty_end - today).days
    return s.DeviceOut(
        service_tag=d.service_tag,
        product=d.product,
        shipped_on=d.shipped_on,
        warranty_plan=d.warranty_plan,
        warranty_end=d.warranty_end,
        warranty_status="active" if days_left >= 0 else "expired",
        days_left=days_left,
    )


def contract(c: m.ServiceContract, today: dt.date) -> s.ContractOut:
    days_left = (c.ends_on - today).days
    status = "expired" if days_left < 0 else "expiring" if days_left <= 90 else "active"
    return s.ContractOut(
        number=c.number,
        service_tag=c.device.service_tag,
        product=c.device.product,
        plan=c.plan_code,
        plan_name=c.plan.name,
        starts_on=c.starts_on,
        ends_on=c.ends_on,
        status=status,
        days_left=days_left,
    )


def service_request(r: m.ServiceRequest) -> s.ServiceRequestOut:
    return s.ServiceRequestOut(
        number=r.number,
        service_tag=r.device.service_tag if r.device else None,
        summary=r.summary,
        description=r.description,
        status=r.status,
        opened_at=r.opened_at,
        closed_at=r.closed_at,
    )
