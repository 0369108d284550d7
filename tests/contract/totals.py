"""What a client should have read, from the sandbox's own control API, and the same figures
computed from what a Singer tap emitted. Money is compared as Decimal strings in cents."""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from decimal import Decimal

import requests

CENT = Decimal("0.01")


def cents(totals: dict[str, Decimal]) -> dict[str, str]:
    return {code: str(total.quantize(CENT)) for code, total in sorted(totals.items())}


def quickbooks_expected(sandbox: str, realm_id: str) -> dict:
    summary = requests.get(f"{sandbox}/_sandbox/quickbooks/{realm_id}/summary", timeout=10).json()
    return {
        "company": summary["name"],
        "invoices": summary["invoices"],
        "open_balance": summary["open_balance"],
        "customers": summary["customers"]["total"],
        "payments": summary["payments"],
        "credit_memos": summary["credit_memos"],
    }


def quickbooks_deleted(sandbox: str, realm_id: str) -> dict[str, int]:
    """How many of each entity the company has deleted (CDC shows those of the last 30 days)."""
    summary = requests.get(f"{sandbox}/_sandbox/quickbooks/{realm_id}/summary", timeout=10).json()
    return summary["deleted"]


def xero_expected(sandbox: str, tenant_id: str) -> dict:
    summary = requests.get(f"{sandbox}/_sandbox/xero/{tenant_id}/summary", timeout=10).json()
    return {
        "organisation": summary["name"],
        "invoices": {kind: counts for kind, counts in summary["invoices"].items() if counts},
        "open_amount_due": summary["openAmountDue"],
        "contacts": summary["contacts"]["total"],
        "payments": summary["payments"],
        "batch_payments": summary["batchPayments"],
        "credit_notes": summary["creditNotes"],
        "overpayments": summary["overpayments"],
        "prepayments": summary["prepayments"],
    }


def xero_organisations(sandbox: str) -> dict[str, dict]:
    rows = requests.get(f"{sandbox}/_sandbox/xero/organisations", timeout=10).json()
    return {row["tenantId"]: row for row in rows["organisations"]}


def quickbooks_from_tap(records: dict[str, list[dict]]) -> dict:
    invoices = _latest(records.get("invoices", []), "Id")
    open_balance: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        balance = Decimal(str(invoice["Balance"]))
        if balance > 0:
            open_balance[invoice["CurrencyRef"]["value"]] += balance
    return {
        "invoices": len(invoices),
        "open_balance": cents(open_balance),
        "customers": len(_latest(records.get("customers", []), "Id")),
        "payments": len(_latest(records.get("payments", []), "Id")),
        "credit_memos": len(_latest(records.get("credit_memos", []), "Id")),
    }


def xero_from_tap(records: dict[str, list[dict]]) -> dict:
    invoices = _latest(records.get("invoices", []), "InvoiceID")
    payments = _latest(records.get("payments", []), "PaymentID")
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    due: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        statuses[invoice["Type"]][invoice["Status"]] += 1
        if invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED":
            due[invoice["CurrencyCode"]] += Decimal(str(invoice["AmountDue"]))
    return {
        "organisation": records["organisations"][0]["Name"],
        "invoices": {kind: dict(counts) for kind, counts in statuses.items()},
        "open_amount_due": cents(due),
        "contacts": len(_latest(records.get("contacts", []), "ContactID")),
        "payments": len(payments),
        "batch_payments": len({p["BatchPaymentID"] for p in payments if p.get("BatchPaymentID")}),
        "credit_notes": len(_latest(records.get("credit_notes", []), "CreditNoteID")),
        "overpayments": len(_latest(records.get("overpayments", []), "OverpaymentID")),
        "prepayments": len(_latest(records.get("prepayments", []), "PrepaymentID")),
    }


def _latest(records: list[dict], key: str) -> list[dict]:
    """One record per id, the last one emitted (a tap may emit a record again)."""
    return list({record[key]: record for record in records}.values())
