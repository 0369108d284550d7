"""Xero's paged Invoices listing for the ingest benchmark (see ingest_pages.py).

Shaped like GET Invoices?page=n&pageSize=1000: the paging envelope with `pagination`, contacts
inline, LineItems, Payments, /Date(ms+0000)/ values beside their ISO `*String` twins.
"""

from __future__ import annotations

from datetime import UTC
from datetime import timedelta
from functools import cache
from typing import Any

from bench.ingest_pages import DATE_MS
from bench.ingest_pages import DATES
from bench.ingest_pages import DAYS
from bench.ingest_pages import FIRST_CHANGE
from bench.ingest_pages import PAGE_SIZE
from bench.ingest_pages import TERMS
from bench.ingest_pages import VARIANTS
from bench.ingest_pages import amounts
from bench.ingest_pages import cents
from bench.ingest_pages import compile_template
from bench.ingest_pages import customer_of
from bench.ingest_pages import escaped
from bench.ingest_pages import in_cents


def _xero_line(number: int, code: str, text: str) -> dict[str, Any]:
    return {
        "ItemCode": code,
        "Description": text,
        "UnitAmount": f"#Price{number}#",
        "TaxType": "OUTPUT2",
        "TaxAmount": 0.00,
        "LineAmount": f"#Line{number}#",
        "AccountCode": "200",
        "Tracking": [],
        "Quantity": f"#Qty{number}#",
        "LineItemID": f"@Id@-{number}",
        "ValidationErrors": [],
    }


_XERO_LATE = frozenset(
    "Id Number Payments ContactId ContactName Email DateString DateMs DueDateString DueDateMs"
    " UpdatedMs UpdatedString".split()
)
XERO_INVOICE = compile_template(
    {
        "Type": "ACCREC",
        "InvoiceID": "@Id@",
        "InvoiceNumber": "@Number@",
        "Reference": "Order @Number@",
        "Payments": "#Payments#",
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": "#AmountDue#",
        "AmountPaid": "#AmountPaid#",
        "AmountCredited": 0.00,
        "SentToContact": True,
        "CurrencyRate": 1.000000,
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": {
            "ContactID": "@ContactId@",
            "ContactStatus": "ACTIVE",
            "Name": "@ContactName@",
            "EmailAddress": "@Email@",
            "Addresses": [
                {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": ""},
                {
                    "AddressType": "POBOX",
                    "AddressLine1": "L4, CA House",
                    "City": "Wellington",
                    "PostalCode": "6012",
                    "Country": "New Zealand",
                },
            ],
            "Phones": [
                {"PhoneType": "DEFAULT", "PhoneNumber": "222-2222", "PhoneAreaCode": "04"},
                {"PhoneType": "MOBILE", "PhoneNumber": "", "PhoneAreaCode": ""},
            ],
            "ContactGroups": [],
            "ContactPersons": [],
            "HasValidationErrors": False,
        },
        "DateString": "@DateString@T00:00:00",
        "Date": "/Date(@DateMs@+0000)/",
        "DueDateString": "@DueDateString@T00:00:00",
        "DueDate": "/Date(@DueDateMs@+0000)/",
        "Status": "@Status@",
        "LineAmountTypes": "Exclusive",
        "LineItems": [_xero_line(1, "GB1-White", "Golf balls"), _xero_line(2, "Tee", "Tees")],
        "SubTotal": "#Total#",
        "TotalTax": 0.00,
        "Total": "#Total#",
        "UpdatedDateUTC": "/Date(@UpdatedMs@+0000)/",
        "UpdatedDateUTCString": "@UpdatedString@",
        "CurrencyCode": "@Currency@",
    },
    _XERO_LATE,
)


def _xero_id(i: int, tail: str) -> str:
    return f"{i:08x}-{tail}"


@cache
def _xero_variant(v: int) -> str:
    parts = amounts(v)
    total, due = parts["TotalAmt"], parts["Balance"]
    status = "VOIDED" if parts["PrivateNote"] else "PAID" if due == "0.00" else "AUTHORISED"
    values = parts | {"Status": status, "Total": total, "AmountDue": due, "Currency": "NZD"}
    return XERO_INVOICE % escaped(values | {"AmountPaid": _paid(parts)})


def _paid(parts: dict[str, Any]) -> str:
    return cents(in_cents(parts["TotalAmt"]) - in_cents(parts["Balance"]))


def xero_invoice(i: int) -> str:
    """Invoice number i (0-based) as Xero's paged Invoices endpoint sends it."""
    v = i % VARIANTS
    customer = customer_of(i)
    changed = (FIRST_CHANGE + timedelta(seconds=60 * i)).astimezone(UTC)
    day = (i // 60) % (DAYS - 60)
    due_day = day + (TERMS[v % len(TERMS)][2] or 7)
    return _xero_variant(v) % {
        "Id": _xero_id(i, "5d91-4c7e-b483-318584e9e439"),
        "Number": f"INV-{i:06d}",
        "Payments": _xero_payments(i, day),
        "ContactId": _xero_id(customer, "f945-44d3-9f97-5df5e28441b8"),
        "ContactName": f"City Agency {customer}",
        "Email": f"ap{customer}@example.com",
        "DateString": DATES[day],
        "DateMs": DATE_MS[day],
        "DueDateString": DATES[due_day],
        "DueDateMs": DATE_MS[due_day],
        "UpdatedMs": int(changed.timestamp() * 1000),
        "UpdatedString": changed.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _xero_payments(i: int, day: int) -> str:
    parts = amounts(i % VARIANTS)
    if not parts["paid"] or parts["PrivateNote"]:
        return "[]"
    return (
        f'[{{"PaymentID":"{_xero_id(i, "e9a0-420c-8884-f624bab2a351")}",'
        f'"Date":"/Date({DATE_MS[day + 3]}+0000)/","Amount":{_paid(parts)},'
        f'"CurrencyRate":1.0,"HasAccount":false,"HasValidationErrors":false}}]'
    )


def xero_invoices_page(page: int, total: int) -> bytes:
    """Page `page` (1-based) of the Invoices listing of a `total`-invoice organisation."""
    first = (page - 1) * PAGE_SIZE
    count = max(0, min(PAGE_SIZE, total - first))
    pages = -(-total // PAGE_SIZE)
    rows = ",".join(xero_invoice(i) for i in range(first, first + count))
    head = (
        '{"Id":"0d3b4c8e-4a8f-4b6e-9a63-2f4d0c6f1a7b","Status":"OK","ProviderName":"Dunwell",'
        '"DateTimeUTC":"/Date(1707235200000)/",'
        f'"pagination":{{"page":{page},"pageSize":{PAGE_SIZE},"pageCount":{pages},'
        f'"itemCount":{total}}},"Warnings":null,"Invoices":['
    )
    return (head + rows + "]}").encode()
