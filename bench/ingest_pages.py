"""Recorded-style listing pages for the ingest benchmark, generated on the fly.

An invoice is one compact JSON template shaped like what QuickBooks' query endpoint sends (see
../shared/provider-samples): full Line items, CustomerRef, CurrencyRef, SalesTermRef, MetaData,
BillEmail, addresses, LinkedTxn. Xero's is in ingest_pages_xero.py. A page is the template
filled 1000 times with values derived from the invoice's index, so no page is ever stored and
invoice n is always the same. What repeats every VARIANTS invoices (amounts, terms, currency) is
rendered once and cached; ids, dates, timestamps and customers are filled in per invoice.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from functools import cache
from typing import Any

PAGE_SIZE = 1000
CUSTOMERS = 5000
# Amounts, terms and currencies repeat every VARIANTS invoices; ids, dates and customers never.
VARIANTS = 1000
_PACIFIC = timezone(timedelta(hours=-8))
FIRST_CHANGE = datetime(2023, 1, 2, 8, 0, tzinfo=_PACIFIC)
_FIRST_DAY = date(2022, 6, 1)
DAYS = 4000
DATES = [(_FIRST_DAY + timedelta(days=n)).isoformat() for n in range(DAYS)]
DATE_MS = [int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000) for day in DATES]
TERMS = (
    ("3", "Net 30", 30),
    ("4", "2% 10 Net 30", 30),
    ("5", "Net 15", 15),
    ("1", "Due on receipt", 0),
)
_CURRENCIES = (("USD", "United States Dollar"),) * 9 + (("CAD", "Canadian Dollar"),)


def compile_template(document: Any, late: frozenset[str] = frozenset()) -> str:
    """A %-format string from a JSON-able template: "@name@" fills inside a string, "#name#"
    as a whole value becomes raw JSON (a number or a fragment). Names in `late` come out as
    `%%(name)s`, to be filled by a second % pass over the first one's result."""

    def placeholder(found: re.Match[str]) -> str:
        return ("%%(" if found.group(1) in late else "%(") + found.group(1) + ")s"

    percent = "%%%%" if late else "%%"
    text = json.dumps(document, separators=(",", ":")).replace("%", percent)
    text = re.sub(r'"#(\w+)#"', placeholder, text)
    return re.sub(r"@(\w+)@", placeholder, text)


def cents(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


def _address(line1: str, city: str, region: str, postal: str) -> dict[str, str]:
    return {
        "Id": "@CustomerId@",
        "Line1": line1,
        "City": city,
        "CountrySubDivisionCode": region,
        "PostalCode": postal,
        "Lat": "37.4530553",
        "Long": "-122.1178261",
    }


def _qbo_line(number: int, item: str, text: str) -> dict[str, Any]:
    return {
        "Id": str(number),
        "LineNum": number,
        "Description": text,
        "Amount": f"#Line{number}#",
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": item, "name": text},
            "UnitPrice": f"#Price{number}#",
            "Qty": f"#Qty{number}#",
            "ItemAccountRef": {"value": "79", "name": "Sales of Product Income"},
            "TaxCodeRef": {"value": "NON"},
        },
    }


_QBO_LATE = frozenset(
    "Id SyncToken CreateTime LastUpdatedTime DocNumber TxnDate DueDate LinkedTxn"
    " CustomerId CustomerName Email".split()
)
QBO_INVOICE = compile_template(
    {
        "AllowIPNPayment": False,
        "AllowOnlinePayment": False,
        "AllowOnlineCreditCardPayment": True,
        "AllowOnlineACHPayment": True,
        "domain": "QBO",
        "sparse": False,
        "Id": "@Id@",
        "SyncToken": "@SyncToken@",
        "MetaData": {"CreateTime": "@CreateTime@", "LastUpdatedTime": "@LastUpdatedTime@"},
        "CustomField": [{"DefinitionId": "1", "Name": "Crew #", "Type": "StringType"}],
        "DocNumber": "@DocNumber@",
        "TxnDate": "@TxnDate@",
        "CurrencyRef": {"value": "@Currency@", "name": "@CurrencyName@"},
        "PrivateNote": "@PrivateNote@",
        "LinkedTxn": "#LinkedTxn#",
        "Line": [
            _qbo_line(1, "5", "Rock Fountain"),
            _qbo_line(2, "11", "Pump"),
            {"Amount": "#TotalAmt#", "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        ],
        "TxnTaxDetail": {"TotalTax": 0},
        "CustomerRef": {"value": "@CustomerId@", "name": "@CustomerName@"},
        "CustomerMemo": {"value": "Thank you for your business and have a great day!"},
        "BillAddr": _address("@CustomerId@ Finch St.", "Bayshore", "CA", "94326"),
        "ShipAddr": _address("@CustomerId@ Finch St.", "Bayshore", "CA", "94326"),
        "FreeFormAddress": False,
        "SalesTermRef": {"value": "@TermId@", "name": "@TermName@"},
        "DueDate": "@DueDate@",
        "TotalAmt": "#TotalAmt#",
        "ApplyTaxAfterDiscount": False,
        "PrintStatus": "NotSet",
        "EmailStatus": "EmailSent",
        "BillEmail": {"Address": "@Email@"},
        "Balance": "#Balance#",
        "DeliveryInfo": {"DeliveryType": "Email", "DeliveryTime": "@CreateTime@"},
    },
    _QBO_LATE,
)


@cache
def amounts(i: int) -> dict[str, Any]:
    """Two lines, the total, and a balance: 60% open, 20% part paid, 20% paid, ~1% voided."""
    qty1, qty2 = 1 + i % 5, 1 + i % 3
    price1, price2 = 2500 + (i * 37) % 50000, 999 + (i * 13) % 9000
    line1, line2 = qty1 * price1, qty2 * price2
    total = line1 + line2
    kind = i % 10
    balance = total if kind < 6 else total // 2 if kind < 8 else 0
    voided = i % 97 == 0
    if voided:
        line1 = line2 = total = balance = 0
    return {
        "Qty1": qty1,
        "Qty2": qty2,
        "Price1": cents(price1),
        "Price2": cents(price2),
        "Line1": cents(line1),
        "Line2": cents(line2),
        "TotalAmt": cents(total),
        "Balance": cents(balance),
        "PrivateNote": "Voided" if voided else "",
        "paid": balance < total,
    }


def in_cents(text: str) -> int:
    units, _, fraction = text.partition(".")
    return int(units) * 100 + int(fraction)


def customer_of(i: int) -> int:
    return 1 + (i * 7919) % CUSTOMERS


def escaped(values: dict[str, Any]) -> dict[str, Any]:
    """First-pass values, with % doubled so that the second pass leaves them alone."""
    return {k: v.replace("%", "%%") if isinstance(v, str) else v for k, v in values.items()}


@cache
def _qbo_variant(v: int) -> str:
    """Everything of an invoice that repeats every VARIANTS invoices, rendered once."""
    parts = amounts(v)
    term_id, term_name, _ = TERMS[v % len(TERMS)]
    currency, currency_name = _CURRENCIES[v % len(_CURRENCIES)]
    values = parts | {"TermId": term_id, "TermName": term_name}
    return QBO_INVOICE % escaped(values | {"Currency": currency, "CurrencyName": currency_name})


def qbo_invoice(i: int) -> str:
    """Invoice number i (0-based) as QuickBooks' query endpoint sends it."""
    v = i % VARIANTS
    customer = customer_of(i)
    changed = FIRST_CHANGE + timedelta(seconds=60 * i)
    day = (i // 60) % (DAYS - 60)
    paid = amounts(v)["paid"]
    linked = f'[{{"TxnId":"{900000 + i}","TxnType":"Payment"}}]' if paid else "[]"
    return _qbo_variant(v) % {
        "Id": str(1000 + i),
        "SyncToken": str(i % 4),
        "CreateTime": (changed - timedelta(days=2)).isoformat(),
        "LastUpdatedTime": changed.isoformat(),
        "DocNumber": str(10000 + i),
        "TxnDate": DATES[day],
        "DueDate": DATES[day + TERMS[v % len(TERMS)][2]],
        "LinkedTxn": linked,
        "CustomerId": str(customer),
        "CustomerName": f"Amy's Bird Sanctuary {customer}",
        "Email": f"ap{customer}@example.com",
    }


def qbo_query_page(start: int, total: int) -> bytes:
    """The QueryResponse for STARTPOSITION `start` (1-based) of a `total`-invoice company."""
    first = start - 1
    count = max(0, min(PAGE_SIZE, total - first))
    stamp = (FIRST_CHANGE + timedelta(days=400)).isoformat(timespec="milliseconds")
    if count == 0:
        return b'{"QueryResponse":{},"time":"%s"}' % stamp.encode()
    rows = ",".join(qbo_invoice(i) for i in range(first, first + count))
    head = '{"QueryResponse":{"Invoice":['
    tail = f'],"startPosition":{start},"maxResults":{count}}},"time":"{stamp}"}}'
    return (head + rows + tail).encode()


def qbo_terms_page() -> bytes:
    terms = [
        {
            "Name": name,
            "Active": True,
            "Type": "STANDARD",
            "DueDays": days,
            "DiscountPercent": 2 if "2%" in name else 0,
            "DiscountDays": 10 if "2%" in name else 0,
            "domain": "QBO",
            "sparse": False,
            "Id": term_id,
            "SyncToken": "0",
            "MetaData": {
                "CreateTime": "2022-05-01T10:00:00-07:00",
                "LastUpdatedTime": "2022-05-01T10:00:00-07:00",
            },
        }
        for term_id, name, days in TERMS
    ]
    body = {
        "QueryResponse": {"Term": terms, "startPosition": 1, "maxResults": len(terms)},
        "time": "2024-02-06T10:00:00.000-08:00",
    }
    return json.dumps(body).encode()


def qbo_preferences() -> bytes:
    body = {
        "Preferences": {"CurrencyPrefs": {"HomeCurrency": {"value": "USD"}}},
        "time": "2024-02-06T10:00:00.000-08:00",
    }
    return json.dumps(body).encode()
