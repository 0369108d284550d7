"""QuickBooks Online JSON -> Dunwell records (pure functions, no I/O).

Quirks handled here:
- Deleted transactions exist only as CDC stubs `{"status": "Deleted", "Id": ...}`; they become
  records with `deleted=True` (an invoice stub gets status DELETED).
- Voided invoices and credit memos are not deleted: QuickBooks zeroes TotalAmt/Balance and writes
  "Voided" into PrivateNote. Both must hold before a document counts as voided.
- Inactive customers get " (deleted)" appended to DisplayName; the suffix is dropped. A merge is
  visible only in the webhook (Merge + deletedId), so `merged_into` stays None from reads.
- A Payment applies money through `Line[].LinkedTxn[]`. Lines linking a CreditMemo apply credit,
  not cash: each credit memo's amount is matched to the invoice lines in line order and becomes a
  CreditApplication (credit memo -> invoice) in `credits`; what the invoice lines keep is cash,
  so `sum(allocations) + unapplied == amount`. A zero-total payment that only applies a credit
  memo therefore has no allocations, and one credit application. The CreditMemo itself never
  lists where its credit went.
- Discount terms ("2% 10 Net 30") live on the Term the invoice references (SalesTermRef). Only
  STANDARD terms have DiscountDays; date-driven terms give no discount window here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from providers.base import Allocation
from providers.base import AnyRecord
from providers.base import CreditApplication
from providers.base import CreditNoteRecord
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord

ZERO = Decimal("0")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VOIDED = re.compile(r"\bvoided\b", re.IGNORECASE)
_DELETED_SUFFIX = " (deleted)"


@dataclass(frozen=True)
class Term:
    """The early-payment part of a QuickBooks Term."""

    discount_percent: Decimal | None = None
    discount_days: int | None = None


@dataclass(frozen=True)
class Context:
    """What a mapping needs beyond the object itself.

    `fallback_time` dates objects without MetaData (delete stubs): use the answer's `time`.
    """

    home_currency: str | None = None
    terms: Mapping[str, Term] = field(default_factory=dict)
    fallback_time: datetime = EPOCH


# ---------------------------------------------------------------- scalars


def parse_instant(value: Any) -> datetime | None:
    """QuickBooks date-times ("2015-10-05T14:42:19-07:00", "-0700", "Z", nanoseconds) as UTC.

    None when absent, unreadable, or not a representable instant ("0001-01-01T00:00:00+01:00"
    would be in year 0 in UTC).
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def money(value: Any, default: Decimal = ZERO) -> Decimal:
    if value is None or isinstance(value, bool):
        return default
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return default


def ref(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, dict) and value.get("value") not in (None, ""):
        return str(value["value"])
    return None


def _address(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if isinstance(value, dict) and value.get("Address"):
        return str(value["Address"]).strip() or None
    return None


def _phone(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("PrimaryPhone")
    if isinstance(value, dict) and value.get("FreeFormNumber"):
        return str(value["FreeFormNumber"])
    return None


def is_deleted_stub(raw: Mapping[str, Any]) -> bool:
    return str(raw.get("status", "")).lower() == "deleted"


def updated_at(raw: Mapping[str, Any], ctx: Context) -> datetime:
    meta = raw.get("MetaData")
    stamp = parse_instant(meta.get("LastUpdatedTime")) if isinstance(meta, dict) else None
    return stamp or ctx.fallback_time


def _head(raw: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return {
        "external_id": str(raw.get("Id", "")),
        "version": str(raw.get("SyncToken", "")),
        "updated_at": updated_at(raw, ctx),
        "deleted": is_deleted_stub(raw),
    }


def _currency(raw: Mapping[str, Any], ctx: Context) -> str:
    return ref(raw, "CurrencyRef") or ctx.home_currency or ""


def is_voided(raw: Mapping[str, Any]) -> bool:
    """A voided sales document: zeroed amounts and "Voided" in PrivateNote (or TxnStatus)."""
    if str(raw.get("TxnStatus", "")).lower() == "voided":
        return True
    zeroed = money(raw.get("TotalAmt")) == ZERO and money(raw.get("Balance")) == ZERO
    return zeroed and bool(VOIDED.search(str(raw.get("PrivateNote") or "")))


# ---------------------------------------------------------------- terms


def term(raw: Mapping[str, Any]) -> Term:
    percent = money(raw.get("DiscountPercent"), default=ZERO)
    days = raw.get("DiscountDays")
    if percent <= ZERO or not isinstance(days, int | Decimal) or isinstance(days, bool):
        return Term()
    return Term(discount_percent=percent, discount_days=int(days))


def terms_by_id(raws: Iterable[Mapping[str, Any]]) -> dict[str, Term]:
    return {str(raw["Id"]): term(raw) for raw in raws if raw.get("Id") is not None}


# ---------------------------------------------------------------- records


def customer(raw: Mapping[str, Any], ctx: Context) -> CustomerRecord:
    active = raw.get("Active") is not False and not is_deleted_stub(raw)
    name = str(raw.get("DisplayName") or raw.get("CompanyName") or "")
    if not active and name.endswith(_DELETED_SUFFIX):
        name = name[: -len(_DELETED_SUFFIX)]
    balance = raw.get("Balance")
    return CustomerRecord(
        **_head(raw, ctx),
        name=name,
        email=_address(raw, "PrimaryEmailAddr"),
        currency=ref(raw, "CurrencyRef") or ctx.home_currency,
        active=active,
        merged_into=None,
        balance=None if balance is None else money(balance),
        phone=_phone(raw),
    )


def invoice_status(raw: Mapping[str, Any]) -> InvoiceStatus:
    if is_deleted_stub(raw):
        return InvoiceStatus.DELETED
    if is_voided(raw):
        return InvoiceStatus.VOIDED
    if money(raw.get("Balance")) == ZERO and money(raw.get("TotalAmt")) > ZERO:
        return InvoiceStatus.PAID
    return InvoiceStatus.OPEN


# Invoice.EmailStatus: NeedToSend is "to be emailed" (not yet), EmailSent is sent, NotSet says
# nothing (the business does not email this invoice from QuickBooks).
EMAIL_SENT = {"NeedToSend": False, "EmailSent": True}


def invoice(raw: Mapping[str, Any], ctx: Context) -> InvoiceRecord:
    terms = ctx.terms.get(ref(raw, "SalesTermRef") or "", Term())
    link = raw.get("InvoiceLink")
    return InvoiceRecord(
        **_head(raw, ctx),
        customer_id=ref(raw, "CustomerRef") or "",
        number=str(raw["DocNumber"]) if raw.get("DocNumber") else None,
        issue_date=parse_date(raw.get("TxnDate")),
        due_date=parse_date(raw.get("DueDate")),
        currency=_currency(raw, ctx),
        total=money(raw.get("TotalAmt")),
        balance=money(raw.get("Balance")),
        status=invoice_status(raw),
        email=_address(raw, "BillEmail"),
        discount_percent=terms.discount_percent,
        discount_days=terms.discount_days,
        link=str(link) if link else None,
        sent_to_customer=EMAIL_SENT.get(str(raw.get("EmailStatus"))),
        home_rate=_home_rate(raw, ctx),
    )


def _home_rate(raw: Mapping[str, Any], ctx: Context) -> Decimal | None:
    """ExchangeRate is home-currency units per unit of the invoice's currency; QuickBooks
    leaves it out of an invoice in the home currency."""
    rate = raw.get("ExchangeRate")
    if rate is not None and Decimal(str(rate)) > ZERO:
        return Decimal(str(rate))
    return Decimal(1) if _currency(raw, ctx) == ctx.home_currency else None


def payment(raw: Mapping[str, Any], ctx: Context) -> PaymentRecord:
    cash, credits = applications(raw)
    return PaymentRecord(
        **_head(raw, ctx),
        customer_id=ref(raw, "CustomerRef") or "",
        paid_on=parse_date(raw.get("TxnDate")),
        currency=_currency(raw, ctx),
        amount=money(raw.get("TotalAmt")),
        unapplied=money(raw.get("UnappliedAmt")),
        allocations=cash,
        credits=credits,
    )


def credit_note(raw: Mapping[str, Any], ctx: Context) -> CreditNoteRecord:
    """A CreditMemo. It lists no applications: those come from the payments that apply it."""
    total = money(raw.get("TotalAmt"))
    remaining = money(raw.get("RemainingCredit", raw.get("Balance")), default=total)
    voided = is_voided(raw)
    return CreditNoteRecord(
        **_head(raw, ctx),
        customer_id=ref(raw, "CustomerRef") or "",
        number=str(raw["DocNumber"]) if raw.get("DocNumber") else None,
        issue_date=parse_date(raw.get("TxnDate")),
        currency=_currency(raw, ctx),
        total=total,
        remaining=remaining,
        voided=voided,
        status=credit_status(raw, remaining, voided),
    )


def credit_status(raw: Mapping[str, Any], remaining: Decimal, voided: bool) -> InvoiceStatus:
    """QuickBooks has no draft credit memos: open while credit remains, else used up."""
    if is_deleted_stub(raw):
        return InvoiceStatus.DELETED
    if voided:
        return InvoiceStatus.VOIDED
    return InvoiceStatus.OPEN if remaining > ZERO else InvoiceStatus.PAID


def _linked_lines(raw: Mapping[str, Any]) -> tuple[list[tuple[str, Decimal]], ...]:
    """(invoice lines, credit memo lines) of a payment as (TxnId, Amount), in line order."""
    invoices: list[tuple[str, Decimal]] = []
    credits: list[tuple[str, Decimal]] = []
    for line in raw.get("Line") or []:
        if not isinstance(line, dict):
            continue
        kinds = {
            str(link.get("TxnType")): str(link.get("TxnId"))
            for link in reversed(line.get("LinkedTxn") or [])
            if isinstance(link, dict)
        }
        amount = money(line.get("Amount"))
        if "Invoice" in kinds:
            invoices.append((kinds["Invoice"], amount))
        elif "CreditMemo" in kinds:
            credits.append((kinds["CreditMemo"], amount))
    return invoices, credits


def applications(
    raw: Mapping[str, Any],
) -> tuple[tuple[Allocation, ...], tuple[CreditApplication, ...]]:
    """(cash per invoice, credit memo -> invoice applications) of one payment.

    Credit memo lines are matched to invoice lines in line order; what an invoice line keeps
    after the credit is cash.
    """
    return allocated(*_linked_lines(raw))


def allocated(
    invoice_lines: list[tuple[str, Decimal]], credit_lines: list[tuple[str, Decimal]]
) -> tuple[tuple[Allocation, ...], tuple[CreditApplication, ...]]:
    """`applications` of a payment's (TxnId, Amount) lines linking invoices and credit memos."""
    left = [amount for _, amount in invoice_lines]
    applied: dict[tuple[str, str], Decimal] = {}
    for credit_id, credit in credit_lines:
        for index, (invoice_id, _) in enumerate(invoice_lines):
            used = min(credit, left[index])
            if used > ZERO:
                key = (credit_id, invoice_id)
                applied[key] = applied.get(key, ZERO) + used
                left[index] -= used
                credit -= used
    cash: dict[str, Decimal] = {}
    for (invoice_id, _), amount in zip(invoice_lines, left, strict=True):
        if amount > ZERO:
            cash[invoice_id] = cash.get(invoice_id, ZERO) + amount
    return (
        tuple(Allocation(invoice_id, amount) for invoice_id, amount in cash.items()),
        tuple(CreditApplication(c, i, amount) for (c, i), amount in applied.items()),
    )


MAPPERS: dict[Entity, Callable[[Mapping[str, Any], Context], AnyRecord]] = {
    Entity.CUSTOMER: customer,
    Entity.INVOICE: invoice,
    Entity.PAYMENT: payment,
    Entity.CREDIT_NOTE: credit_note,
}


def to_record(entity: Entity, raw: Mapping[str, Any], ctx: Context) -> AnyRecord:
    return MAPPERS[entity](raw, ctx)


def sort_oldest_first(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    return sorted(records, key=lambda record: (record.updated_at, record.external_id))
