"""Invoices pages decoded straight into typed Structs: the hot path of a backfill.

As for QuickBooks (providers/quickbooks/typed.py): the Structs name only the fields
`mapping.invoice` reads, so the rest of a page (LineItems, Payments, addresses) is skipped
unbuilt, and money is decoded as `Decimal` from the JSON text. The typed path is strict where
`mapping` is lenient (an amount as a string that is not a number, a number where text is
expected): a page it cannot take whole gives None from `invoices_page`, and the caller maps it
from raw objects instead. `invoice` gives the same record as `mapping.invoice`
(tests/providers/test_xero_typed.py compares them).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import msgspec

from providers.base import Allocation
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from providers.xero.dates import calendar_date
from providers.xero.dates import instant
from providers.xero.mapping import home_rate
from providers.xero.mapping import invoice_status
from providers.xero.mapping import sent_to_contact

_ZERO = Decimal("0")


class XeroContact(msgspec.Struct, gc=False):
    ContactID: str | None = None
    EmailAddress: str | None = None


class XeroInvoice(msgspec.Struct, gc=False):
    """The fields of a Xero Invoice that `mapping.invoice` reads."""

    Type: str | None = None
    InvoiceID: str | None = None
    UpdatedDateUTC: str | None = None
    UpdatedDateUTCString: str | None = None
    Status: str | None = None
    Contact: XeroContact | None = None
    InvoiceNumber: str | None = None
    Date: str | None = None
    DateString: str | None = None
    DueDate: str | None = None
    DueDateString: str | None = None
    CurrencyCode: str | None = None
    Total: Decimal | None = None
    AmountDue: Decimal | None = None
    SentToContact: bool | None = None
    CurrencyRate: Decimal | None = None


class Pagination(msgspec.Struct, gc=False):
    pageCount: int | None = None


class InvoicesPage(msgspec.Struct, gc=False):
    Invoices: list[XeroInvoice] = []
    pagination: Pagination | None = None

    @property
    def page_count(self) -> int | None:
        return self.pagination.pageCount if self.pagination is not None else None


_DECODER = msgspec.json.Decoder(InvoicesPage)


def invoices_page(body: bytes) -> InvoicesPage | None:
    """An Invoices answer; None when the generic path must read it (not JSON, or a field of a
    shape the Structs do not take)."""
    try:
        return _DECODER.decode(body)
    except msgspec.MsgspecError:
        return None


def invoice(raw: XeroInvoice) -> InvoiceRecord | None:
    """The record `mapping.invoice` makes of the same invoice (None for a bill)."""
    if raw.Type != "ACCREC":
        return None
    version = raw.UpdatedDateUTC or raw.UpdatedDateUTCString
    updated_at = instant(version)
    if not raw.InvoiceID or version is None or updated_at is None:
        raise ValueError("Xero sent a document without InvoiceID or UpdatedDateUTC")
    balance = _ZERO if raw.AmountDue is None else raw.AmountDue
    status = invoice_status(raw.Status, balance)
    contact = raw.Contact
    return InvoiceRecord(
        external_id=raw.InvoiceID,
        version=version,
        updated_at=updated_at,
        deleted=status is InvoiceStatus.DELETED,
        customer_id=(contact.ContactID or "") if contact is not None else "",
        number=_text(raw.InvoiceNumber),
        issue_date=calendar_date(raw.DateString, raw.Date),
        due_date=calendar_date(raw.DueDateString, raw.DueDate),
        currency=raw.CurrencyCode or "",
        total=_ZERO if raw.Total is None else raw.Total,
        balance=balance,
        status=status,
        email=_text(contact.EmailAddress) if contact is not None else None,
        sent_to_customer=sent_to_contact(raw.Status, raw.SentToContact),
        home_rate=_home_rate(raw.CurrencyRate),
    )


def _home_rate(rate: Decimal | None) -> Decimal | None:
    """`home_rate`, worked out once per rate: a ledger's invoices share a few rates, and the
    division and rounding cost a microsecond. (Equal rates give one result: it is normalized.)"""
    if rate is None or not rate.is_finite():
        return home_rate(rate)
    return _known_home_rate(rate)


@lru_cache(maxsize=512)
def _known_home_rate(rate: Decimal) -> Decimal | None:
    return home_rate(rate)


def _text(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


# ---------------------------------------------------------------- payments
# Payments pages, as the invoices above: the fields `mapping.payment` reads, money as Decimal
# from the JSON text; a page the Structs cannot take whole goes through `mapping.payment`.


class XeroPaymentInvoice(msgspec.Struct, gc=False):
    Type: str | None = None
    InvoiceID: str | None = None
    Contact: XeroContact | None = None
    CurrencyCode: str | None = None


class XeroPayment(msgspec.Struct, gc=False):
    """The fields of a Xero Payment that `mapping.payment` reads."""

    PaymentID: str | None = None
    UpdatedDateUTC: str | None = None
    UpdatedDateUTCString: str | None = None
    PaymentType: str | None = None
    Status: str | None = None
    Invoice: XeroPaymentInvoice | None = None
    Amount: Decimal | None = None
    Date: str | None = None
    DateString: str | None = None
    CurrencyCode: str | None = None


class PaymentsPage(msgspec.Struct, gc=False):
    Payments: list[XeroPayment] = []
    pagination: Pagination | None = None

    @property
    def page_count(self) -> int | None:
        return self.pagination.pageCount if self.pagination is not None else None


_PAYMENTS = msgspec.json.Decoder(PaymentsPage)


def payments_page(body: bytes) -> PaymentsPage | None:
    """A Payments answer; None when the generic path must read it."""
    try:
        return _PAYMENTS.decode(body)
    except msgspec.MsgspecError:
        return None


def payment(raw: XeroPayment) -> PaymentRecord | None:
    """The record `mapping.payment` makes of the same payment (None for supplier payments)."""
    target = raw.Invoice
    accrec = "ACCRECPAYMENT" if target is not None and target.Type == "ACCREC" else ""
    if (raw.PaymentType or accrec) != "ACCRECPAYMENT":
        return None
    version = raw.UpdatedDateUTC or raw.UpdatedDateUTCString
    updated_at = instant(version)
    if not raw.PaymentID or version is None or updated_at is None:
        raise ValueError("Xero sent a document without PaymentID or UpdatedDateUTC")
    amount = _ZERO if raw.Amount is None else raw.Amount
    invoice_id = (target.InvoiceID or "") if target is not None else ""
    contact = target.Contact if target is not None else None
    return PaymentRecord(
        external_id=raw.PaymentID,
        version=version,
        updated_at=updated_at,
        deleted=(raw.Status or "").upper() == "DELETED",
        customer_id=(contact.ContactID or "") if contact is not None else "",
        paid_on=calendar_date(raw.DateString, raw.Date),
        currency=(target.CurrencyCode if target is not None else None) or raw.CurrencyCode or "",
        amount=amount,
        unapplied=_ZERO,
        allocations=(Allocation(invoice_id, amount),) if invoice_id else (),
    )
