"""Xero JSON -> Dunwell records (pure functions, no I/O).

Money may arrive as JSON numbers (parsed as Decimal by api.py) or as strings ("1025.00");
`money()` takes both. Every mapper returns None for documents that are not receivables
(bills, supplier credit notes, supplier payments), so callers can filter with one test.

Overpayments and prepayments (money a customer paid before or beyond an invoice) reduce what the
customer owes exactly like a credit note does: they carry RemainingCredit and Allocations to
invoices. Xero keeps them on their own endpoints, so they are mirrored as CreditNoteRecords whose
external_id is prefixed "overpayment:" or "prepayment:".
"""

from __future__ import annotations

from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from providers.base import Allocation
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from providers.xero.dates import calendar_date
from providers.xero.dates import instant

OVERPAYMENT_PREFIX = "overpayment:"
PREPAYMENT_PREFIX = "prepayment:"
_ZERO = Decimal("0")
_NIL_ID = "00000000-0000-0000-0000-000000000000"

_INVOICE_STATUS = {
    "DRAFT": InvoiceStatus.DRAFT,
    "SUBMITTED": InvoiceStatus.DRAFT,  # awaiting approval: not yet owed
    "AUTHORISED": InvoiceStatus.OPEN,
    "PAID": InvoiceStatus.PAID,
    "VOIDED": InvoiceStatus.VOIDED,
    "DELETED": InvoiceStatus.DELETED,
}
# Only authorised credit is usable; a draft credit note's RemainingCredit is not real yet, so a
# draft counts 0 remaining with status DRAFT (not PAID: it is not used up, it is not issued yet).
_USABLE_CREDIT = ("AUTHORISED", "PAID")


def money(value: Any, default: Decimal = _ZERO) -> Decimal:
    """A Decimal from a JSON number or a numeric string; `default` when absent."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def _head(raw: dict[str, Any], id_field: str, prefix: str = "") -> dict[str, Any]:
    version = raw.get("UpdatedDateUTC") or raw.get("UpdatedDateUTCString")
    updated_at = instant(version)
    if not raw.get(id_field) or updated_at is None:
        raise ValueError(f"Xero sent a document without {id_field} or UpdatedDateUTC")
    external_id = prefix + str(raw[id_field])
    return {"external_id": external_id, "version": version, "updated_at": updated_at}


def _contact_id(raw: dict[str, Any]) -> str:
    return str((raw.get("Contact") or {}).get("ContactID") or "")


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def invoice(raw: dict[str, Any]) -> InvoiceRecord | None:
    """A sales invoice (ACCREC); None for bills."""
    if raw.get("Type") != "ACCREC":
        return None
    balance = money(raw.get("AmountDue"))
    status = invoice_status(raw.get("Status"), balance)
    return InvoiceRecord(
        **_head(raw, "InvoiceID"),
        deleted=status is InvoiceStatus.DELETED,
        customer_id=_contact_id(raw),
        number=_text(raw.get("InvoiceNumber")),
        issue_date=calendar_date(raw.get("DateString"), raw.get("Date")),
        due_date=calendar_date(raw.get("DueDateString"), raw.get("DueDate")),
        currency=raw.get("CurrencyCode") or "",
        total=money(raw.get("Total")),
        balance=balance,
        status=status,
        email=_text((raw.get("Contact") or {}).get("EmailAddress")),
        sent_to_customer=sent_to_contact(raw.get("Status"), raw.get("SentToContact")),
        home_rate=home_rate(raw.get("CurrencyRate")),
    )


def home_rate(currency_rate: Any) -> Decimal | None:
    """Xero's CurrencyRate is units of the invoice's currency per unit of the base currency
    (1 for an invoice in the base currency); Dunwell keeps the inverse, to 12 places."""
    if currency_rate is None:
        return None
    rate = Decimal(str(currency_rate))
    if rate <= 0:
        return None
    return (Decimal(1) / rate).quantize(Decimal("1e-12")).normalize()


def sent_to_contact(status: Any, sent: Any) -> bool | None:
    """SentToContact; None for a DRAFT, which Xero cannot email (SUBMITTED and AUTHORISED can
    be), and when the field is absent."""
    if str(status or "").upper() == "DRAFT" or not isinstance(sent, bool):
        return None
    return sent


def invoice_status(value: Any, balance: Decimal) -> InvoiceStatus:
    """Xero's invoice status; an AUTHORISED invoice with nothing due counts as paid."""
    status = _INVOICE_STATUS.get(str(value or "").upper())
    if status is None:
        raise ValueError(f"unknown Xero invoice status {value!r}")
    if status is InvoiceStatus.OPEN and balance == 0:
        return InvoiceStatus.PAID
    return status


def customer(raw: dict[str, Any]) -> CustomerRecord:
    """A contact. Xero never deletes contacts: ARCHIVED (and GDPR-erased) ones are inactive."""
    receivable = (raw.get("Balances") or {}).get("AccountsReceivable") or {}
    outstanding = receivable.get("Outstanding")
    merged_into = _text(raw.get("MergedToContactID"))
    return CustomerRecord(
        **_head(raw, "ContactID"),
        name=raw.get("Name") or "",
        email=_text(raw.get("EmailAddress")),
        currency=_text(raw.get("DefaultCurrency")),
        active=str(raw.get("ContactStatus") or "ACTIVE").upper() == "ACTIVE",
        merged_into=None if merged_into == _NIL_ID else merged_into,
        balance=None if outstanding is None else money(outstanding),
        phone=_phone(raw.get("Phones") or []),
    )


def _phone(phones: list[dict[str, Any]]) -> str | None:
    """The DEFAULT phone (else the first with a number), country/area/number joined."""
    numbered = [p for p in phones if _text(p.get("PhoneNumber"))]
    numbered.sort(key=lambda p: p.get("PhoneType") != "DEFAULT")
    if not numbered:
        return None
    first = numbered[0]
    parts = (first.get("PhoneCountryCode"), first.get("PhoneAreaCode"), first.get("PhoneNumber"))
    return " ".join(t for t in map(_text, parts) if t)


def payment(raw: dict[str, Any]) -> PaymentRecord | None:
    """A customer payment on one sales invoice; None for supplier payments and refunds.

    A Xero payment always applies to exactly one invoice (a batch payment is listed as one
    payment per invoice). Refunds of credit notes, overpayments and prepayments are left out:
    they show up in the RemainingCredit of the credit record they came from.
    """
    target = raw.get("Invoice") or {}
    kind = raw.get("PaymentType") or ("ACCRECPAYMENT" if target.get("Type") == "ACCREC" else "")
    if kind != "ACCRECPAYMENT":
        return None
    amount = money(raw.get("Amount"))
    invoice_id = str(target.get("InvoiceID") or "")
    return PaymentRecord(
        **_head(raw, "PaymentID"),
        deleted=str(raw.get("Status") or "").upper() == "DELETED",
        customer_id=_contact_id(target),
        paid_on=calendar_date(raw.get("DateString"), raw.get("Date")),
        currency=target.get("CurrencyCode") or raw.get("CurrencyCode") or "",
        amount=amount,
        unapplied=_ZERO,
        allocations=(Allocation(invoice_id, amount),) if invoice_id else (),
    )


def credit_note(raw: dict[str, Any]) -> CreditNoteRecord | None:
    """A customer credit note (ACCRECCREDIT); None for supplier credit notes."""
    if raw.get("Type") != "ACCRECCREDIT":
        return None
    return _credit(raw, "CreditNoteID", "", _text(raw.get("CreditNoteNumber")))


def overpayment(raw: dict[str, Any]) -> CreditNoteRecord | None:
    """A customer overpayment as credit; None for SPEND-OVERPAYMENT (to a supplier)."""
    if raw.get("Type") != "RECEIVE-OVERPAYMENT":
        return None
    return _credit(raw, "OverpaymentID", OVERPAYMENT_PREFIX, None)


def prepayment(raw: dict[str, Any]) -> CreditNoteRecord | None:
    """A customer prepayment as credit; None for SPEND-PREPAYMENT (to a supplier)."""
    if raw.get("Type") != "RECEIVE-PREPAYMENT":
        return None
    return _credit(raw, "PrepaymentID", PREPAYMENT_PREFIX, None)


def _credit(
    raw: dict[str, Any], id_field: str, prefix: str, number: str | None
) -> CreditNoteRecord:
    status = str(raw.get("Status") or "").upper()
    usable = status in _USABLE_CREDIT
    remaining = money(raw.get("RemainingCredit")) if usable else _ZERO
    return CreditNoteRecord(
        **_head(raw, id_field, prefix),
        deleted=status == "DELETED",
        customer_id=_contact_id(raw),
        number=number,
        issue_date=calendar_date(raw.get("DateString"), raw.get("Date")),
        currency=raw.get("CurrencyCode") or "",
        total=money(raw.get("Total")),
        remaining=remaining,
        voided=status == "VOIDED",
        allocations=_allocations(raw.get("Allocations") or []),
        status=credit_status(status, remaining),
    )


def credit_status(status: str, remaining: Decimal) -> InvoiceStatus:
    """Xero's credit status as ours; an AUTHORISED credit with nothing left counts as used up."""
    if status == "AUTHORISED":
        return InvoiceStatus.OPEN if remaining > 0 else InvoiceStatus.PAID
    return _INVOICE_STATUS.get(status, InvoiceStatus.DRAFT)


def _allocations(items: list[dict[str, Any]]) -> tuple[Allocation, ...]:
    allocations = []
    for item in items:
        invoice_id = (item.get("Invoice") or {}).get("InvoiceID")
        if invoice_id and str(item.get("IsDeleted", "")).lower() != "true":
            allocations.append(Allocation(str(invoice_id), money(item.get("Amount"))))
    return tuple(allocations)
