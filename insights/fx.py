"""Amounts in the organization's home currency.

Each invoice converts at the rate the provider booked it at (QuickBooks `ExchangeRate`, Xero
`CurrencyRate`, kept as home units per unit in `Invoice.home_rate`), not at today's rate: the
same figure the provider's own aged-receivables report shows before any revaluation. An
invoice in the home currency needs no rate; one in another currency without a rate is left
out of home-currency figures and counted in `Home.missing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from decimal import ROUND_HALF_UP
from decimal import Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

RATE_NAMES = {
    "quickbooks": "the exchange rate QuickBooks booked on each invoice (ExchangeRate)",
    "xero": "the currency rate Xero booked on each invoice (CurrencyRate)",
}


def rate_note(provider: str) -> str:
    return RATE_NAMES.get(provider, "the rate booked on each invoice")


def to_home(
    amount: Decimal, currency: str, rate: Decimal | None, home: str | None
) -> Decimal | None:
    """`amount` in the home currency, to the cent; None when it cannot be converted."""
    if home is None:
        return None
    if currency == home or not currency:
        return amount.quantize(CENT, ROUND_HALF_UP)
    if rate is None:
        return None
    return (amount * rate).quantize(CENT, ROUND_HALF_UP)


@dataclass
class Home:
    """A home-currency total, and what could not be added to it (per currency: count, amount)."""

    amount: Decimal = ZERO
    missing: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    def add(self, amount: Decimal, currency: str, rate: Decimal | None, home: str | None) -> None:
        converted = to_home(amount, currency, rate, home)
        if converted is not None:
            self.amount += converted
            return
        count, total = self.missing.get(currency, (0, ZERO))
        self.missing[currency] = (count + 1, total + amount)

    def merge(self, other: Home) -> None:
        self.amount += other.amount
        for currency, (count, total) in other.missing.items():
            have_count, have_total = self.missing.get(currency, (0, ZERO))
            self.missing[currency] = (have_count + count, have_total + total)
