"""Invoice query pages decoded straight into typed Structs: the hot path of a backfill.

Decoding a whole page into dicts builds an object for every field QuickBooks sends (Line items,
addresses, custom fields: about 60 numbers and strings per invoice) and a `Decimal` for every
number. `msgspec` decoding into Structs that name only the fields `mapping.invoice` reads skips
the rest unbuilt, and decodes money as `Decimal` from the JSON text (never through float).

The typed path is strict where `mapping` is lenient (a number where a string is expected, a
single object where a list is expected, an unreadable amount): a page it cannot take whole
returns None from `invoices`, and the caller maps that page through the generic path, which
gives the same records as ever. `invoice` gives the same record as `mapping.invoice` for every
page it takes (tests/providers/test_quickbooks_typed.py compares them).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from providers.quickbooks.mapping import EMAIL_SENT
from providers.quickbooks.mapping import VOIDED
from providers.quickbooks.mapping import ZERO
from providers.quickbooks.mapping import Context
from providers.quickbooks.mapping import Term
from providers.quickbooks.mapping import allocated
from providers.quickbooks.mapping import parse_date
from providers.quickbooks.mapping import parse_instant

_NO_TERM = Term()


class QboRef(msgspec.Struct, gc=False):
    value: str | None = None


class QboAddress(msgspec.Struct, gc=False):
    Address: str | None = None


class QboMeta(msgspec.Struct, gc=False):
    LastUpdatedTime: str | None = None


class QboInvoice(msgspec.Struct, gc=False):
    """The fields of a QuickBooks Invoice that `mapping.invoice` reads."""

    Id: str = ""
    SyncToken: str = ""
    MetaData: QboMeta | None = None
    status: str | None = None
    CustomerRef: QboRef | None = None
    DocNumber: str | None = None
    TxnDate: str | None = None
    DueDate: str | None = None
    CurrencyRef: QboRef | None = None
    TotalAmt: Decimal | None = None
    Balance: Decimal | None = None
    TxnStatus: str | None = None
    PrivateNote: str | None = None
    BillEmail: QboAddress | None = None
    SalesTermRef: QboRef | None = None
    InvoiceLink: str | None = None
    EmailStatus: str | None = None
    ExchangeRate: Decimal | None = None


class _Invoices(msgspec.Struct, gc=False):
    Invoice: list[QboInvoice] = []


class _Answer(msgspec.Struct, gc=False):
    QueryResponse: _Invoices | None = None
    Fault: msgspec.Raw | None = None


_DECODER = msgspec.json.Decoder(_Answer)


def invoices(body: bytes) -> list[QboInvoice] | None:
    """The invoices of a query answer; None when the generic path must read it (not JSON, a
    Fault, or a field of a shape the Structs do not take)."""
    try:
        answer = _DECODER.decode(body)
    except msgspec.MsgspecError:
        return None
    if answer.Fault is not None:
        return None
    return answer.QueryResponse.Invoice if answer.QueryResponse else []


def ref(value: QboRef | None) -> str | None:
    return value.value if value is not None and value.value else None


def is_deleted(raw: QboInvoice) -> bool:
    return raw.status is not None and raw.status.lower() == "deleted"


def needs_terms(raws: list[QboInvoice]) -> bool:
    return any(ref(raw.SalesTermRef) for raw in raws if not is_deleted(raw))


def needs_home_currency(raws: list[QboInvoice]) -> bool:
    return any(not ref(raw.CurrencyRef) for raw in raws if not is_deleted(raw))


def invoice(raw: QboInvoice, ctx: Context) -> InvoiceRecord:
    """The record `mapping.invoice` makes of the same invoice."""
    total = ZERO if raw.TotalAmt is None else raw.TotalAmt
    balance = ZERO if raw.Balance is None else raw.Balance
    currency = ref(raw.CurrencyRef) or ctx.home_currency or ""
    terms = ctx.terms.get(ref(raw.SalesTermRef) or "", _NO_TERM)
    meta = raw.MetaData
    email = raw.BillEmail.Address if raw.BillEmail is not None else None
    return InvoiceRecord(
        external_id=raw.Id,
        version=raw.SyncToken,
        updated_at=(parse_instant(meta.LastUpdatedTime) if meta else None) or ctx.fallback_time,
        deleted=is_deleted(raw),
        customer_id=ref(raw.CustomerRef) or "",
        number=raw.DocNumber or None,
        issue_date=parse_date(raw.TxnDate),
        due_date=parse_date(raw.DueDate),
        currency=currency,
        total=total,
        balance=balance,
        status=_status(raw, total, balance),
        email=(email.strip() or None) if email else None,
        discount_percent=terms.discount_percent,
        discount_days=terms.discount_days,
        link=raw.InvoiceLink or None,
        sent_to_customer=EMAIL_SENT.get(str(raw.EmailStatus)),
        home_rate=_home_rate(raw.ExchangeRate, currency, ctx),
    )


def _status(raw: QboInvoice, total: Decimal, balance: Decimal) -> InvoiceStatus:
    if is_deleted(raw):
        return InvoiceStatus.DELETED
    if _is_voided(raw, total, balance):
        return InvoiceStatus.VOIDED
    if balance == ZERO and total > ZERO:
        return InvoiceStatus.PAID
    return InvoiceStatus.OPEN


def _is_voided(raw: QboInvoice, total: Decimal, balance: Decimal) -> bool:
    if raw.TxnStatus is not None and raw.TxnStatus.lower() == "voided":
        return True
    zeroed = total == ZERO and balance == ZERO
    return zeroed and bool(VOIDED.search(raw.PrivateNote or ""))


def _home_rate(rate: Decimal | None, currency: str, ctx: Context) -> Decimal | None:
    if rate is not None and rate > ZERO:
        return rate
    return Decimal(1) if currency == ctx.home_currency else None


# ---------------------------------------------------------------- payments
# Payment query pages, as the invoices above: the fields `mapping.payment` reads (its Line items'
# amounts and LinkedTxn), money as Decimal from the JSON text; a page the Structs cannot take
# whole goes through `mapping.payment`.


class QboLinkedTxn(msgspec.Struct, gc=False):
    TxnId: str | None = None
    TxnType: str | None = None


class QboPaymentLine(msgspec.Struct, gc=False):
    Amount: Decimal | None = None
    LinkedTxn: list[QboLinkedTxn] | None = None


class QboPayment(msgspec.Struct, gc=False):
    """The fields of a QuickBooks Payment that `mapping.payment` reads."""

    Id: str = ""
    SyncToken: str = ""
    MetaData: QboMeta | None = None
    status: str | None = None
    CustomerRef: QboRef | None = None
    TxnDate: str | None = None
    CurrencyRef: QboRef | None = None
    TotalAmt: Decimal | None = None
    UnappliedAmt: Decimal | None = None
    Line: list[QboPaymentLine] | None = None


class _Payments(msgspec.Struct, gc=False):
    Payment: list[QboPayment] = []


class _PaymentsAnswer(msgspec.Struct, gc=False):
    QueryResponse: _Payments | None = None
    Fault: msgspec.Raw | None = None


_PAYMENTS = msgspec.json.Decoder(_PaymentsAnswer)


def payments(body: bytes) -> list[QboPayment] | None:
    """The payments of a query answer; None when the generic path must read it."""
    try:
        answer = _PAYMENTS.decode(body)
    except msgspec.MsgspecError:
        return None
    if answer.Fault is not None:
        return None
    return answer.QueryResponse.Payment if answer.QueryResponse else []


def payments_need_home_currency(raws: list[QboPayment]) -> bool:
    return any(not ref(raw.CurrencyRef) for raw in raws if not _is_stub(raw))


def payment(raw: QboPayment, ctx: Context) -> PaymentRecord:
    """The record `mapping.payment` makes of the same payment."""
    cash, credits = allocated(*_linked_lines(raw.Line or ()))
    meta = raw.MetaData
    return PaymentRecord(
        external_id=raw.Id,
        version=raw.SyncToken,
        updated_at=(parse_instant(meta.LastUpdatedTime) if meta else None) or ctx.fallback_time,
        deleted=_is_stub(raw),
        customer_id=ref(raw.CustomerRef) or "",
        paid_on=parse_date(raw.TxnDate),
        currency=ref(raw.CurrencyRef) or ctx.home_currency or "",
        amount=ZERO if raw.TotalAmt is None else raw.TotalAmt,
        unapplied=ZERO if raw.UnappliedAmt is None else raw.UnappliedAmt,
        allocations=cash,
        credits=credits,
    )


def _is_stub(raw: QboPayment) -> bool:
    return raw.status is not None and raw.status.lower() == "deleted"


def _linked_lines(
    lines: Iterable[QboPaymentLine],
) -> tuple[list[tuple[str, Decimal]], list[tuple[str, Decimal]]]:
    """(invoice lines, credit memo lines) as (TxnId, Amount), as `mapping._linked_lines`."""
    invoices: list[tuple[str, Decimal]] = []
    credits: list[tuple[str, Decimal]] = []
    for line in lines:
        kinds = {str(link.TxnType): str(link.TxnId) for link in reversed(line.LinkedTxn or ())}
        amount = ZERO if line.Amount is None else line.Amount
        if "Invoice" in kinds:
            invoices.append((kinds["Invoice"], amount))
        elif "CreditMemo" in kinds:
            credits.append((kinds["CreditMemo"], amount))
    return invoices, credits
