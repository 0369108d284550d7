"""The sandbox's in-memory ledger: plain dataclasses, rendered to Xero JSON by `render`.

Money is Decimal throughout; calendar dates are `date`; instants are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Org:
    tenant_id: str
    name: str
    legal_name: str
    short_code: str
    base_currency: str
    timezone: str  # Xero's Windows-style name, e.g. NEWZEALANDSTANDARDTIME
    country_code: str
    version: str  # Xero's "Version": NZ, US, UK...
    tax_type: str
    tax_rate: Decimal
    other_currencies: tuple[tuple[str, Decimal], ...]
    weight: float  # share of the configured size
    trade: str  # which catalogue of goods it sells
    bank_account_id: str
    bank_code: str
    bank_name: str
    local_offsets: bool  # renders some dates as local midnight with a +1300 style offset
    created: datetime


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    include_in_emails: bool


@dataclass
class HistoryRecord:
    at: datetime
    user: str
    changes: str
    details: str


@dataclass
class Contact:
    id: str
    name: str
    first_name: str
    last_name: str
    email: str
    number: str
    account_number: str
    status: str  # ACTIVE | ARCHIVED
    is_supplier: bool
    is_customer: bool
    currency: str | None
    terms_days: int
    phone: str
    city: str
    region: str
    postal_code: str
    country: str
    persons: list[Person] = field(default_factory=list)
    group_ids: list[str] = field(default_factory=list)
    history: list[HistoryRecord] = field(default_factory=list)
    updated: datetime | None = None


@dataclass
class Line:
    id: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    account_code: str
    tax_type: str
    tax_amount: Decimal
    line_amount: Decimal
    item_code: str | None = None
    discount_rate: Decimal | None = None


@dataclass
class CreditLink:
    """One credit note, overpayment or prepayment allocation applied to an invoice."""

    kind: str  # creditnote | overpayment | prepayment
    doc_id: str
    allocation_id: str
    amount: Decimal
    on: date


@dataclass
class Invoice:
    id: str
    type: str  # ACCREC | ACCPAY
    number: str
    reference: str
    contact_id: str
    date: date
    due_date: dt.date
    status: str
    lines: list[Line]
    line_amount_types: str
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    currency: str
    currency_rate: Decimal
    amount_paid: Decimal = ZERO
    amount_credited: Decimal = ZERO
    payment_ids: list[str] = field(default_factory=list)
    credits: list[CreditLink] = field(default_factory=list)
    sent_to_contact: bool = False
    fully_paid_on: dt.date | None = None
    expected_payment_date: dt.date | None = None
    string_amounts: bool = False
    has_attachments: bool = False
    history: list[HistoryRecord] = field(default_factory=list)
    updated: datetime | None = None

    @property
    def amount_due(self) -> Decimal:
        if self.status == "VOIDED":
            return ZERO
        return self.total - self.amount_paid - self.amount_credited


@dataclass
class Payment:
    id: str
    target_kind: str  # invoice | creditnote
    target_id: str
    date: date
    amount: Decimal
    currency_rate: Decimal
    reference: str
    payment_type: str
    status: str = "AUTHORISED"
    batch_id: str | None = None
    is_reconciled: bool = False
    updated: datetime | None = None


@dataclass
class Allocation:
    id: str
    invoice_id: str
    amount: Decimal
    date: date


@dataclass
class CreditDoc:
    """A credit note, overpayment or prepayment: money the customer can have applied."""

    kind: str  # creditnote | overpayment | prepayment
    id: str
    type: str  # ACCRECCREDIT | ACCPAYCREDIT | RECEIVE-OVERPAYMENT | RECEIVE-PREPAYMENT
    number: str
    reference: str
    contact_id: str
    date: date
    status: str
    lines: list[Line]
    line_amount_types: str
    sub_total: Decimal
    total_tax: Decimal
    total: Decimal
    currency: str
    currency_rate: Decimal
    allocations: list[Allocation] = field(default_factory=list)
    refund_ids: list[str] = field(default_factory=list)
    refunded: Decimal = ZERO
    fully_paid_on: dt.date | None = None
    history: list[HistoryRecord] = field(default_factory=list)
    updated: datetime | None = None

    @property
    def remaining(self) -> Decimal:
        if self.status in ("VOIDED", "DELETED"):
            return ZERO
        return self.total - sum((a.amount for a in self.allocations), ZERO) - self.refunded


@dataclass
class BatchPayment:
    id: str
    date: date
    reference: str
    payment_ids: list[str]
    total: Decimal
    updated: datetime | None = None


@dataclass
class ContactGroup:
    id: str
    name: str
    status: str = "ACTIVE"
    contact_ids: list[str] = field(default_factory=list)


@dataclass
class Ledger:
    """Everything one organisation (tenant) holds."""

    org: Org
    contacts: dict[str, Contact] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    credit_notes: dict[str, CreditDoc] = field(default_factory=dict)
    overpayments: dict[str, CreditDoc] = field(default_factory=dict)
    prepayments: dict[str, CreditDoc] = field(default_factory=dict)
    batch_payments: dict[str, BatchPayment] = field(default_factory=dict)
    groups: dict[str, ContactGroup] = field(default_factory=dict)
    invoices_by_contact: dict[str, list[str]] = field(default_factory=dict)
    next_invoice_number: int = 1
    next_credit_number: int = 1
    last_stamp: datetime | None = None

    def docs(self, kind: str) -> dict[str, CreditDoc]:
        return {
            "creditnote": self.credit_notes,
            "overpayment": self.overpayments,
            "prepayment": self.prepayments,
        }[kind]

    def add_invoice(self, invoice: Invoice) -> None:
        self.invoices[invoice.id] = invoice
        self.invoices_by_contact.setdefault(invoice.contact_id, []).append(invoice.id)
