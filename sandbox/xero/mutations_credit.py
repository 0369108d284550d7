"""Credit notes created through the API and allocations of credit to invoices.

Dunwell settles early-payment discounts this way: an AUTHORISED ACCRECCREDIT for the discount,
then `PUT /CreditNotes/{id}/Allocations` against the invoice. Callers hold `store.lock`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.xero.dates import parse_body_date
from sandbox.xero.models import CENT
from sandbox.xero.models import ZERO
from sandbox.xero.models import Allocation
from sandbox.xero.models import CreditDoc
from sandbox.xero.models import CreditLink
from sandbox.xero.models import Ledger
from sandbox.xero.models import Line
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound
from sandbox.xero.store import Store
from sandbox.xero.store import parse_amount

CREDIT_TYPES = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}


def create_credit_notes(store: Store, ledger: Ledger, specs: list[Any]) -> list[CreditDoc]:
    """Validates every credit note first, so a bad one creates none."""
    plans = [_plan(store, ledger, spec) for spec in specs]
    return [_store_note(store, ledger, plan) for plan in plans]


@dataclass
class _Plan:
    spec: dict[str, Any]
    kind: str
    contact_id: str
    status: str
    amount_types: str
    day: date
    lines: list[Line]
    currency: str
    rate: Decimal


def _plan(store: Store, ledger: Ledger, spec: Any) -> _Plan:
    if not isinstance(spec, dict):
        raise Invalid("Each CreditNote must be an object")
    errors: list[str] = []
    kind = spec.get("Type")
    if kind not in CREDIT_TYPES:
        errors.append("Type must be ACCRECCREDIT or ACCPAYCREDIT")
    contact_ref = spec.get("Contact")
    if not isinstance(contact_ref, dict):
        contact_ref = {}
    contact = ledger.contacts.get(str(contact_ref.get("ContactID", "")).lower())
    if contact is None:
        errors.append("A valid Contact (ContactID) is required")
    status = spec.get("Status", "DRAFT")
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        errors.append("Status must be DRAFT, SUBMITTED or AUTHORISED")
    amount_types = spec.get("LineAmountTypes", "Exclusive")
    if amount_types not in ("Exclusive", "Inclusive", "NoTax"):
        errors.append("LineAmountTypes must be Exclusive, Inclusive or NoTax")
    day = parse_body_date(spec.get("Date")) if "Date" in spec else store.today()
    if day is None:
        errors.append("Date must be a date such as 2026-05-01")
    lines = _lines(ledger, spec.get("LineItems"), amount_types, errors)
    rates = {ledger.org.base_currency: Decimal("1.000000"), **dict(ledger.org.other_currencies)}
    currency = (
        spec.get("CurrencyCode") or (contact and contact.currency) or ledger.org.base_currency
    )
    if currency not in rates:
        errors.append(f"Currency {currency} is not enabled for this organisation")
    if errors or contact is None or day is None:
        raise Invalid(errors, spec)
    return _Plan(
        spec, str(kind), contact.id, status, amount_types, day, lines, currency, rates[currency]
    )


def _store_note(store: Store, ledger: Ledger, plan: _Plan) -> CreditDoc:
    amount = sum((line.line_amount for line in plan.lines), ZERO)
    tax = sum((line.tax_amount for line in plan.lines), ZERO)
    inclusive = plan.amount_types == "Inclusive"
    sub_total, total = (amount - tax, amount) if inclusive else (amount, amount + tax)
    number = str(plan.spec.get("CreditNoteNumber") or "")
    if not number and plan.kind == "ACCRECCREDIT":
        number = f"CN-{ledger.next_credit_number:04d}"
        ledger.next_credit_number += 1
    doc = CreditDoc(
        kind="creditnote",
        id=str(uuid.uuid4()),
        type=plan.kind,
        number=number,
        reference=str(plan.spec.get("Reference") or ""),
        contact_id=plan.contact_id,
        date=plan.day,
        status=plan.status,
        lines=plan.lines,
        line_amount_types=plan.amount_types,
        sub_total=sub_total,
        total_tax=tax,
        total=total,
        currency=plan.currency,
        currency_rate=plan.rate,
    )
    ledger.credit_notes[doc.id] = doc
    store.touch(ledger, doc)
    store.changed(ledger, "CREDITNOTE", "CREATE", doc.id, {"Type": doc.type, "Status": doc.status})
    return doc


def _lines(ledger: Ledger, items: Any, amount_types: str, errors: list[str]) -> list[Line]:
    if not isinstance(items, list) or not items:
        errors.append("At least one LineItem is required")
        return []
    lines = []
    for item in items:
        line = _line(ledger, item, amount_types) if isinstance(item, dict) else None
        if line is None:
            errors.append("Each LineItem needs a Description and a positive UnitAmount")
            return []
        lines.append(line)
    return lines


def _line(ledger: Ledger, item: dict[str, Any], amount_types: str) -> Line | None:
    unit = parse_amount(item.get("UnitAmount", item.get("LineAmount")))
    quantity = parse_amount(item.get("Quantity", 1))
    if unit is None or quantity is None or not item.get("Description"):
        return None
    amount = (unit * quantity).quantize(CENT)
    tax_type = item.get("TaxType") or ("NONE" if amount_types == "NoTax" else ledger.org.tax_type)
    rate = ZERO if tax_type == "NONE" or amount_types == "NoTax" else ledger.org.tax_rate
    tax = amount * rate / (1 + rate) if amount_types == "Inclusive" else amount * rate
    return Line(
        id=str(uuid.uuid4()),
        description=str(item["Description"]),
        quantity=quantity,
        unit_amount=unit,
        account_code=str(item.get("AccountCode") or "200"),
        tax_type=tax_type,
        tax_amount=tax.quantize(CENT),
        line_amount=amount,
    )


def allocate(
    store: Store, ledger: Ledger, kind: str, doc_id: str, specs: list[Any]
) -> tuple[CreditDoc, list[str]]:
    """Applies credit to invoices; returns the document and the new allocation ids."""
    doc = ledger.docs(kind).get(doc_id)
    if doc is None:
        raise NotFound(f"no {kind} {doc_id}")
    if not specs:
        raise Invalid("At least one Allocation is required")
    planned = [_check(store, ledger, doc, spec) for spec in specs]
    if sum((amount for _, amount, _ in planned), ZERO) > doc.remaining:
        raise Invalid(
            f"The total amount allocated exceeds the remaining credit ({doc.remaining:.2f})",
            {"Allocations": specs},
        )
    return doc, [_apply(store, ledger, doc, *plan) for plan in planned]


def _check(store: Store, ledger: Ledger, doc: CreditDoc, spec: Any) -> tuple[str, Decimal, date]:
    if not isinstance(spec, dict):
        raise Invalid("Each Allocation must be an object")
    invoice_ref = spec.get("Invoice")
    if not isinstance(invoice_ref, dict):
        invoice_ref = {}
    invoice_id = str(invoice_ref.get("InvoiceID", "")).lower()
    invoice = ledger.invoices.get(invoice_id)
    amount = parse_amount(spec.get("Amount"))
    day = parse_body_date(spec.get("Date")) if spec.get("Date") else store.today()
    errors = []
    if doc.status != "AUTHORISED":
        errors.append("Only AUTHORISED documents with remaining credit can be allocated")
    if invoice is None:
        errors.append(f"Invoice {invoice_id} could not be found")
    elif invoice.status != "AUTHORISED":
        errors.append("Invoice not of valid status for modification")
    elif CREDIT_TYPES.get(doc.type, "ACCREC") != invoice.type:
        errors.append("The credit and the invoice must both be sales or both be purchases")
    elif (invoice.contact_id, invoice.currency) != (doc.contact_id, doc.currency):
        errors.append("The credit and the invoice must have the same contact and currency")
    if amount is None:
        errors.append("Amount must be a positive number")
    elif invoice is not None and amount > invoice.amount_due:
        errors.append(f"The amount allocated exceeds the amount due ({invoice.amount_due:.2f})")
    if day is None:
        errors.append("Date must be a date such as 2026-05-01")
    if errors or amount is None or day is None:
        raise Invalid(errors, spec)
    return invoice_id, amount, day


def _apply(
    store: Store, ledger: Ledger, doc: CreditDoc, invoice_id: str, amount: Decimal, day: date
) -> str:
    invoice = ledger.invoices[invoice_id]
    allocation = Allocation(str(uuid.uuid4()), invoice.id, amount, day)
    doc.allocations.append(allocation)
    invoice.credits.append(CreditLink(doc.kind, doc.id, allocation.id, amount, day))
    invoice.amount_credited += amount
    if invoice.amount_due <= ZERO:
        invoice.status, invoice.fully_paid_on = "PAID", day
    if doc.remaining <= ZERO:
        doc.status, doc.fully_paid_on = "PAID", day
    store.touch(ledger, doc, invoice)
    store.changed(ledger, "INVOICE", "UPDATE", invoice.id)
    if doc.kind == "creditnote":
        store.changed(
            ledger, "CREDITNOTE", "UPDATE", doc.id, {"Type": doc.type, "Status": doc.status}
        )
    return allocation.id
