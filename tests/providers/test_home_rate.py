"""Each invoice's rate to the home currency, as the provider booked it, the right way round."""

from __future__ import annotations

from decimal import Decimal

from providers.quickbooks import mapping as qbo
from providers.xero import mapping as xero
from tests.providers.test_quickbooks_mapping import ctx
from tests.providers.test_quickbooks_mapping import load as load_qbo
from tests.providers.test_xero_mapping import load as load_xero


def test_quickbooks_exchange_rate_is_home_units_per_foreign_unit():
    record = qbo.invoice(load_qbo("invoice_foreign.json")["Invoice"], ctx(home_currency="USD"))
    assert (record.currency, record.home_rate) == ("EUR", Decimal("1.0825"))
    # HomeTotalAmt 1299.54 in the same payload is TotalAmt 1200.50 at that rate
    assert (record.total * record.home_rate).quantize(Decimal("0.01")) == Decimal("1299.54")


def test_quickbooks_home_currency_invoice_has_rate_one_and_a_foreign_one_without_rate_none():
    raw = dict(load_qbo("invoice_paid.json")["Invoice"])
    raw.pop("ExchangeRate", None)
    raw["CurrencyRef"] = {"value": "USD"}
    assert qbo.invoice(raw, ctx(home_currency="USD")).home_rate == Decimal(1)
    raw["CurrencyRef"] = {"value": "GBP"}
    assert qbo.invoice(raw, ctx(home_currency="USD")).home_rate is None


def test_xero_currency_rate_is_inverted_to_home_units_per_foreign_unit():
    invoices = load_xero("invoices.json")["Invoices"]
    home = xero.invoice(invoices[0])
    assert (home.currency, home.home_rate) == ("NZD", Decimal(1))
    foreign = dict(invoices[1], CurrencyRate=0.625)  # 1 NZD buys 0.625 USD
    assert xero.invoice(foreign).home_rate == Decimal("1.6")
    assert xero.invoice(dict(invoices[1], CurrencyRate=0.7)).home_rate == Decimal("1.428571428571")
    assert xero.invoice(invoices[1]).home_rate is None  # no CurrencyRate in the payload
