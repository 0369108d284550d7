"""Seeded line items: goods from the organisation's catalogue, tax, the odd line discount."""

from __future__ import annotations

from decimal import Decimal

from sandbox.xero import catalog
from sandbox.xero.data import Builder
from sandbox.xero.models import ZERO
from sandbox.xero.models import Line


def make_lines(b: Builder, kind: str, rate: Decimal) -> tuple[list[Line], str]:
    """1-4 lines priced in the invoice currency (`rate` converts from the base currency)."""
    roll = b.rng.random()
    amount_types = "NoTax" if roll < 0.1 else ("Inclusive" if roll < 0.15 else "Exclusive")
    lines = [_line(b, kind, rate, amount_types) for _ in range(b.rng.choice((1, 1, 2, 3, 4)))]
    return lines, amount_types


def _line(b: Builder, kind: str, rate: Decimal, amount_types: str) -> Line:
    rng = b.rng
    if kind == "ACCPAY":
        description, price = rng.choice(catalog.BILL_GOODS)
        code, account = None, rng.choice(("400", "429", "445", "449"))
        quantity = Decimal(1)
    else:
        code, description, price = rng.choice(catalog.GOODS[b.org.trade])
        account, quantity = "200", Decimal(rng.choice((1, 1, 1, 2, 3, 5, 10, 12)))
    unit = b.money(Decimal(price) * rate * Decimal(rng.randrange(90, 111)) / 100)
    discount = Decimal(rng.choice((5, 10))) if kind == "ACCREC" and rng.random() < 0.06 else None
    amount = quantity * unit * (1 - (discount or 0) / Decimal(100))
    amount = b.money(amount)
    return Line(
        id=b.uuid(),
        description=description,
        quantity=quantity,
        unit_amount=unit,
        account_code=account,
        tax_type=_tax_type(b, kind, amount_types),
        tax_amount=_tax(b, amount, amount_types),
        line_amount=amount,
        item_code=code,
        discount_rate=discount,
    )


def _tax_type(b: Builder, kind: str, amount_types: str) -> str:
    if amount_types == "NoTax":
        return "NONE"
    return b.org.tax_type if kind == "ACCREC" else "INPUT2"


def _tax(b: Builder, amount: Decimal, amount_types: str) -> Decimal:
    rate = b.org.tax_rate
    if amount_types == "NoTax":
        return ZERO
    if amount_types == "Inclusive":
        return b.money(amount * rate / (1 + rate))
    return b.money(amount * rate)
