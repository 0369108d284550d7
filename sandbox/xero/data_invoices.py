"""Seeded invoices and bills with the payments and credits applied to them.

A fixed list of archetypes comes first so that even the small set holds every case Dunwell
must handle (each ageing bucket, part payments, credits, archived and foreign customers,
string amounts, early-payment wording); random invoices follow.
"""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from decimal import Decimal

from sandbox.xero import catalog
from sandbox.xero.data import HISTORY_DAYS
from sandbox.xero.data import Builder
from sandbox.xero.data_credits import new_doc
from sandbox.xero.data_lines import make_lines
from sandbox.xero.models import ZERO
from sandbox.xero.models import Allocation
from sandbox.xero.models import Contact
from sandbox.xero.models import CreditDoc
from sandbox.xero.models import CreditLink
from sandbox.xero.models import Invoice
from sandbox.xero.models import Line
from sandbox.xero.models import Payment

# plan, days past due (negative: due later), which contact, flags
ARCHETYPES = (
    ("open", -10, "any", ""),
    ("open", 15, "any", ""),
    ("open", 45, "any", ""),
    ("open", 75, "any", ""),
    ("open", 120, "any", ""),
    ("open", 300, "any", ""),
    ("partial", 20, "any", ""),
    ("partial", 95, "any", "strings"),
    ("paid", 40, "any", ""),
    ("two_payments", 60, "any", ""),
    ("draft", -20, "any", ""),
    ("submitted", -5, "any", ""),
    ("voided", 30, "any", ""),
    ("deleted", -15, "any", ""),
    ("credited", 35, "any", ""),
    ("credit_paid", 50, "any", ""),
    ("overpaid", 25, "any", ""),
    ("prepaid", 10, "any", ""),
    ("open", 33, "foreign", ""),
    ("paid", 12, "foreign", ""),
    ("open", 70, "archived", ""),
    ("paid", 200, "archived", ""),
    ("open", -5, "any", "early"),
    ("partial", 8, "any", "early"),
)


def build_invoices(b: Builder) -> None:
    contacts = list(b.ledger.contacts.values())
    customers = [c for c in contacts if c.is_customer]
    suppliers = [c for c in contacts if not c.is_customer]
    bills = max(4, b.invoice_count // 12)
    for index, (plan, overdue, pick, flags) in enumerate(ARCHETYPES):
        contact = _pick(customers, pick, index)
        due = b.today - timedelta(days=overdue)
        _invoice(b, contact, due - timedelta(days=contact.terms_days), due, plan, flags)
    for _ in range(b.invoice_count - len(ARCHETYPES) - bills):
        _random_invoice(b, b.rng.choice(customers))
    for _ in range(bills):
        _random_bill(b, b.rng.choice(suppliers))


def _pick(customers: list[Contact], pick: str, index: int) -> Contact:
    if pick == "foreign":
        return customers[1]
    if pick == "archived":
        return customers[2]
    plain = [customers[0]] + customers[3:6]
    return plain[index % len(plain)]


def _random_invoice(b: Builder, contact: Contact) -> None:
    rng = b.rng
    issued = b.days_ago(int(HISTORY_DAYS * rng.random() ** 1.3))
    due = issued + timedelta(days=contact.terms_days)
    flags = "strings" if rng.random() < 0.025 else ("early" if rng.random() < 0.05 else "")
    _invoice(b, contact, issued, due, _random_plan(b, due, contact), flags)


def _random_plan(b: Builder, due: date, contact: Contact) -> str:
    rng, roll = b.rng, b.rng.random()
    for plan, cut in (("draft", 0.03), ("deleted", 0.045), ("voided", 0.065), ("submitted", 0.075)):
        if roll < cut:
            return plan
    overdue = (b.today - due).days
    chance = 0.25 if overdue < 0 else 0.55 if overdue <= 30 else 0.7 if overdue <= 60 else 0.85
    if contact.status == "ARCHIVED" or overdue > 120:
        chance = 0.95
    if rng.random() < chance:
        return rng.choices(("paid", "two_payments", "credit_paid", "overpaid"), (84, 10, 3, 3))[0]
    return rng.choices(("open", "partial", "credited", "prepaid"), (80, 12, 5, 3))[0]


def _random_bill(b: Builder, contact: Contact) -> None:
    issued = b.days_ago(int(HISTORY_DAYS * b.rng.random()))
    due = issued + timedelta(days=30)
    plan = "paid" if (b.today - due).days > 10 and b.rng.random() < 0.9 else "open"
    if b.rng.random() < 0.05:
        plan = "draft"
    _invoice(b, contact, issued, due, plan, "", kind="ACCPAY")


def _invoice(
    b: Builder,
    contact: Contact,
    issued: date,
    due: date,
    plan: str,
    flags: str,
    kind: str = "ACCREC",
) -> Invoice:
    issued = min(issued, b.today)
    currency = contact.currency or b.org.base_currency
    rate = dict(b.org.other_currencies).get(currency, Decimal("1.000000"))
    lines, amount_types = make_lines(b, kind, rate)
    sub_total, tax, total = _totals(lines, amount_types)
    invoice = Invoice(
        id=b.uuid(),
        type=kind,
        number="",
        reference=_reference(b, kind, flags),
        contact_id=contact.id,
        date=issued,
        due_date=due,
        status="AUTHORISED",
        lines=lines,
        line_amount_types=amount_types,
        sub_total=sub_total,
        total_tax=tax,
        total=total,
        currency=currency,
        currency_rate=rate,
        string_amounts="strings" in flags,
        has_attachments=b.rng.random() < 0.05,
    )
    b.ledger.add_invoice(invoice)
    last = _apply_plan(b, invoice, plan)
    invoice.sent_to_contact = (
        kind == "ACCREC" and invoice.status in ("AUTHORISED", "PAID") and (b.rng.random() < 0.8)
    )
    if invoice.status == "AUTHORISED" and due < b.today and b.rng.random() < 0.05:
        invoice.expected_payment_date = b.today + timedelta(days=b.rng.randrange(3, 20))
    invoice.updated = b.stamp(last)
    return invoice


def _totals(lines: list[Line], amount_types: str) -> tuple[Decimal, Decimal, Decimal]:
    amount = sum((line.line_amount for line in lines), ZERO)
    tax = sum((line.tax_amount for line in lines), ZERO)
    if amount_types == "Inclusive":
        return amount - tax, tax, amount
    return amount, tax, amount + tax


def _reference(b: Builder, kind: str, flags: str) -> str:
    if kind == "ACCPAY":
        return ""
    if "early" in flags:
        return b.rng.choice(catalog.EARLY_PAYMENT_WORDING)
    return f"PO {b.rng.randrange(1000, 9999)}" if b.rng.random() < 0.4 else ""


def _apply_plan(b: Builder, inv: Invoice, plan: str) -> date:
    """Moves the invoice to the plan's state; returns the day of its last change."""
    if plan in ("draft", "submitted", "deleted", "voided"):
        inv.status = plan.upper()
        return b.between(inv.date, b.today) if plan in ("voided", "deleted") else inv.date
    if plan == "open":
        return inv.date
    day = _payment_day(b, inv)
    if plan == "paid":
        pay(b, inv, inv.amount_due, day)
    elif plan == "two_payments":
        first = b.money(inv.total * Decimal(b.rng.choice(("0.3", "0.5", "0.6"))))
        pay(b, inv, first, b.between(inv.date, day))
        pay(b, inv, inv.amount_due, day)
    elif plan == "partial":
        pay(b, inv, b.money(inv.total * Decimal(b.rng.choice(("0.25", "0.4", "0.5")))), day)
    else:
        _credit_plan(b, inv, plan, day)
    return day


def _payment_day(b: Builder, inv: Invoice) -> date:
    if inv.due_date >= b.today:
        return b.between(inv.date, b.today)
    late = int(b.rng.gauss(2, 10))
    return min(b.today, max(inv.date, inv.due_date + timedelta(days=late)))


def _credit_plan(b: Builder, inv: Invoice, plan: str, day: date) -> None:
    due = inv.amount_due
    if plan == "credit_paid":
        allocate(b, inv, "creditnote", due, due, day)
    elif plan == "credited":
        part = b.money(due * Decimal(b.rng.choice(("0.1", "0.2", "0.3"))))
        allocate(b, inv, "creditnote", part, part, day)
    elif plan == "overpaid":
        extra = b.money(Decimal(b.rng.randrange(10, 200)))
        allocate(b, inv, "overpayment", due + extra, due, day)
    elif plan == "prepaid":
        deposit = b.money(due * Decimal(b.rng.choice(("0.3", "0.5"))))
        allocate(b, inv, "prepayment", deposit, deposit, b.between(inv.date, day))


def pay(b: Builder, inv: Invoice, amount: Decimal, day: date) -> Payment:
    payment = Payment(
        id=b.uuid(),
        target_kind="invoice",
        target_id=inv.id,
        date=day,
        amount=amount,
        currency_rate=inv.currency_rate,
        reference=b.rng.choice(("", "", "Remittance", "EFT")),
        payment_type="ACCRECPAYMENT" if inv.type == "ACCREC" else "ACCPAYPAYMENT",
        is_reconciled=(b.today - day).days > 14 and b.rng.random() < 0.85,
        updated=b.stamp(day),
    )
    b.ledger.payments[payment.id] = payment
    inv.payment_ids.append(payment.id)
    inv.amount_paid += amount
    _settle(inv, day)
    return payment


def allocate(
    b: Builder, inv: Invoice, kind: str, total: Decimal, amount: Decimal, day: date
) -> CreditDoc:
    """A credit note / overpayment / prepayment of `total`, `amount` of it applied to `inv`."""
    doc = new_doc(b, kind, inv.contact_id, total, inv.currency, inv.currency_rate, day)
    link = CreditLink(kind, doc.id, b.uuid(), amount, day)
    doc.allocations.append(Allocation(link.allocation_id, inv.id, amount, day))
    doc.status = "PAID" if doc.remaining == ZERO else "AUTHORISED"
    doc.fully_paid_on = day if doc.status == "PAID" else None
    inv.credits.append(link)
    inv.amount_credited += amount
    _settle(inv, day)
    return doc


def _settle(inv: Invoice, day: date) -> None:
    if inv.amount_due <= ZERO:
        inv.status, inv.fully_paid_on = "PAID", day
