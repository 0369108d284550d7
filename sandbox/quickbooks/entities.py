"""Builders for QuickBooks entity dicts in the shapes the real API returns.

Used by the seeded history and by the write operations, so both produce identical shapes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.wire import money

CURRENCY_NAMES = {
    "USD": "United States Dollar",
    "CAD": "Canadian Dollar",
    "GBP": "British Pound Sterling",
    "EUR": "Euro",
}
ITEMS = {
    "1": "Services",
    "2": "Design",
    "3": "Installation",
    "4": "Maintenance",
    "5": "Materials",
    "6": "Printing",
    "7": "Delivery",
}
ZERO = Decimal("0.00")
RATE_STEP = Decimal("0.0001")


def currency_ref(code: str) -> dict[str, str]:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def customer_ref(customer: dict[str, Any]) -> dict[str, str]:
    return {"value": customer["Id"], "name": customer["DisplayName"]}


def sales_line(number: int, item_id: str, qty: Decimal, price: Decimal, text: str) -> dict:
    return {
        "Id": str(number),
        "LineNum": number,
        "Description": text,
        "Amount": money(qty * price),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_id, "name": ITEMS.get(item_id, "Services")},
            "UnitPrice": price,
            "Qty": qty,
            "TaxCodeRef": {"value": "NON"},
        },
    }


def amount_line(number: int, amount: Decimal, text: str = "Services") -> dict:
    return sales_line(number, "1", Decimal("1"), money(amount), text)


def with_totals(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Decimal]:
    """Recompute the subtotal line and percent discounts; return (lines, total)."""
    body = [line for line in lines if line.get("DetailType") != "SubTotalLineDetail"]
    subtotal = sum(
        (money(line["Amount"]) for line in body if line["DetailType"] == "SalesItemLineDetail"),
        ZERO,
    )
    discount = ZERO
    for line in body:
        if line["DetailType"] != "DiscountLineDetail":
            continue
        detail = line.setdefault("DiscountLineDetail", {})
        if detail.get("PercentBased"):
            line["Amount"] = money(subtotal * Decimal(str(detail["DiscountPercent"])) / 100)
        discount += money(line["Amount"])
    sales = [line for line in body if line["DetailType"] != "DiscountLineDetail"]
    discounts = [line for line in body if line["DetailType"] == "DiscountLineDetail"]
    subtotal_line = {
        "Amount": subtotal,
        "DetailType": "SubTotalLineDetail",
        "SubTotalLineDetail": {},
    }
    return [*sales, subtotal_line, *discounts], subtotal - discount


def set_amounts(co: Company, txn: dict[str, Any], total: Decimal, balance: Decimal) -> None:
    """TotalAmt/Balance plus the home-currency mirrors a multicurrency company adds."""
    txn["TotalAmt"] = total
    txn["Balance"] = balance
    if co.multicurrency:
        rate = txn.get("ExchangeRate", Decimal("1"))
        txn["HomeTotalAmt"] = money(total * rate)
        txn["HomeBalance"] = money(balance * rate)


def set_balance(co: Company, txn: dict[str, Any], balance: Decimal) -> None:
    set_amounts(co, txn, txn["TotalAmt"], balance)


def exchange_rate(co: Company, currency: str) -> Decimal | None:
    if not co.multicurrency:
        if currency != co.currency:
            raise OpError(
                "6000", "A business validation error has occurred", "Multicurrency is off"
            )
        return None
    if currency == co.currency:
        return Decimal("1")
    return co.rates[currency].quantize(RATE_STEP)


def new_invoice(
    co: Company,
    customer: dict[str, Any],
    lines: list[dict[str, Any]],
    txn_date: date,
    due_date: date,
    rate: Decimal | None,
    doc_number: str,
) -> dict[str, Any]:
    lines, total = with_totals(lines)
    currency = customer["CurrencyRef"]["value"]
    invoice: dict[str, Any] = {
        "AllowIPNPayment": False,
        "AllowOnlinePayment": False,
        "AllowOnlineCreditCardPayment": True,
        "AllowOnlineACHPayment": True,
        "domain": "QBO",
        "sparse": False,
        "CustomField": [],
        "DocNumber": doc_number,
        "TxnDate": txn_date.isoformat(),
        "CurrencyRef": currency_ref(currency),
        "LinkedTxn": [],
        "Line": lines,
        "TxnTaxDetail": {"TotalTax": 0},
        "CustomerRef": customer_ref(customer),
        "CustomerMemo": {"value": "Thank you for your business!"},
        "BillAddr": dict(customer["BillAddr"]),
        "DueDate": due_date.isoformat(),
        "ApplyTaxAfterDiscount": False,
        "PrintStatus": "NotSet",
        "EmailStatus": "NeedToSend" if "PrimaryEmailAddr" in customer else "NotSet",
    }
    if "SalesTermRef" in customer:
        invoice["SalesTermRef"] = dict(customer["SalesTermRef"])
    if "PrimaryEmailAddr" in customer:
        invoice["BillEmail"] = dict(customer["PrimaryEmailAddr"])
    if rate is not None:
        invoice["ExchangeRate"] = rate
    set_amounts(co, invoice, total, total)
    return invoice


def new_payment(
    co: Company,
    customer: dict[str, Any],
    total: Decimal,
    lines: list[tuple[str, str, Decimal]],
    txn_date: date,
    rate: Decimal | None,
    ref_num: str = "",
) -> dict[str, Any]:
    """`lines` are (TxnType, TxnId, Amount); applied = invoices - credit memos."""
    applied = sum((a for kind, _, a in lines if kind == "Invoice"), ZERO)
    applied -= sum((a for kind, _, a in lines if kind == "CreditMemo"), ZERO)
    payment: dict[str, Any] = {
        "CustomerRef": customer_ref(customer),
        "DepositToAccountRef": {"value": "4", "name": "Undeposited Funds"},
        "TotalAmt": total,
        "UnappliedAmt": total - applied,
        "ProcessPayment": False,
        "domain": "QBO",
        "sparse": False,
        "TxnDate": txn_date.isoformat(),
        "CurrencyRef": dict(customer["CurrencyRef"]),
        "Line": [payment_line(kind, txn_id, amount) for kind, txn_id, amount in lines],
    }
    if ref_num:
        payment["PaymentRefNum"] = ref_num
    if rate is not None:
        payment["ExchangeRate"] = rate
    return payment


def payment_line(kind: str, txn_id: str, amount: Decimal) -> dict[str, Any]:
    return {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": kind}]}


def new_credit_memo(
    co: Company,
    customer: dict[str, Any],
    lines: list[dict[str, Any]],
    txn_date: date,
    rate: Decimal | None,
    doc_number: str,
) -> dict[str, Any]:
    lines, total = with_totals(lines)
    memo: dict[str, Any] = {
        "domain": "QBO",
        "sparse": False,
        "CustomField": [],
        "DocNumber": doc_number,
        "TxnDate": txn_date.isoformat(),
        "CurrencyRef": dict(customer["CurrencyRef"]),
        "Line": lines,
        "TxnTaxDetail": {"TotalTax": 0},
        "CustomerRef": customer_ref(customer),
        "BillAddr": dict(customer["BillAddr"]),
        "ApplyTaxAfterDiscount": False,
        "PrintStatus": "NotSet",
        "EmailStatus": "NotSet",
        "RemainingCredit": total,
    }
    if "PrimaryEmailAddr" in customer:
        memo["BillEmail"] = dict(customer["PrimaryEmailAddr"])
    if rate is not None:
        memo["ExchangeRate"] = rate
    set_amounts(co, memo, total, total)
    return memo


def set_credit(co: Company, memo: dict[str, Any], balance: Decimal) -> None:
    set_balance(co, memo, balance)
    memo["RemainingCredit"] = balance
