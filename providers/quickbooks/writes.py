"""Write commands carried out in QuickBooks Online.

Every POST carries `requestid` (the idempotency key, or a hash of it when longer than 50
characters; multi-call commands add a suffix per call), so a retried command is answered from
QuickBooks' memory instead of running twice. Updates re-read the object by id first for a fresh
SyncToken and are sparse; a stale SyncToken (5010) surfaces as Conflict.

- AddNote: appended to Invoice.PrivateNote (4000 chars) or Customer.Notes (2000 chars), oldest
  text trimmed first.
- SetCreditHold: QuickBooks has no hold flag; a "[CREDIT HOLD yyyy-mm-dd] reason" first line in
  Customer.Notes marks it, and is removed on release.
- SendInvoice and SendReminder: QuickBooks' own invoice email (`invoice/<id>/send`, to `sendTo`
  when given, else the invoice's BillEmail), once per invoice. It takes no subject or body: the
  company's invoice email template is used, and a reminder's wording is not sent. The invoices
  are re-read afterwards (EmailStatus EmailSent, DeliveryInfo, InvoiceLink).
- SettleDiscount: a CreditMemo for the amount (one line, no item, so QuickBooks books it on its
  default sales item) and a zero-total Payment linking that CreditMemo and the invoice, which
  applies the credit. Returns the re-read invoice, credit note and payment (whose `credits` say
  where the credit went).

Writes answer without InvoiceLink (it needs `include=invoiceLink`); an invoice returned by an
update keeps the link read just before it, so the mirror never loses it.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING
from typing import Any

from providers.base import AddNote
from providers.base import AnyRecord
from providers.base import Conflict
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import Rejected
from providers.base import SendInvoice
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import Unavailable
from providers.base import Unsupported
from providers.base import WriteCommand
from providers.base import WriteResult
from providers.quickbooks import mapping
from providers.quickbooks import notes
from providers.quickbooks.api import request_id
from providers.quickbooks.links import read_invoices
from providers.quickbooks.listing import NAMES
from providers.quickbooks.listing import PATHS

if TYPE_CHECKING:
    from providers.quickbooks.adapter import QuickBooks

NOTE_FIELDS = {
    Entity.INVOICE: ("PrivateNote", notes.PRIVATE_NOTE_MAX),
    Entity.CUSTOMER: ("Notes", notes.CUSTOMER_NOTES_MAX),
}


def perform(qb: QuickBooks, command: WriteCommand, key: str) -> WriteResult:
    if isinstance(command, AddNote):
        return add_note(qb, command, key)
    if isinstance(command, SetCreditHold):
        return set_credit_hold(qb, command, key)
    if isinstance(command, SendReminder):
        return send_reminder(qb, command, key)
    if isinstance(command, SendInvoice):
        return send_invoice(qb, command, key)
    if isinstance(command, SettleDiscount):
        return settle_discount(qb, command, key)
    raise Unsupported(f"QuickBooks cannot carry out {type(command).__name__}")


def add_note(qb: QuickBooks, command: AddNote, key: str) -> WriteResult:
    if command.entity not in NOTE_FIELDS:
        raise Unsupported("QuickBooks keeps notes on invoices and customers only")
    field, limit = NOTE_FIELDS[command.entity]
    raw, stamp = qb.read_raw(command.entity, command.external_id)
    updated = notes.append_note(str(raw.get(field) or ""), command.text, limit)
    return _sparse_update(qb, command.entity, raw, stamp, {field: updated}, key)


def set_credit_hold(qb: QuickBooks, command: SetCreditHold, key: str) -> WriteResult:
    raw, stamp = qb.read_raw(Entity.CUSTOMER, command.customer_id)
    current = str(raw.get("Notes") or "")
    if command.on_hold:
        today = qb.clock().astimezone(UTC).date()
        updated = notes.set_hold(current, today, command.reason)
    else:
        updated = notes.clear_hold(current)
    return _sparse_update(qb, Entity.CUSTOMER, raw, stamp, {"Notes": updated}, key)


def _sparse_update(
    qb: QuickBooks,
    entity: Entity,
    raw: dict[str, Any],
    stamp: Any,
    changes: dict[str, str | None],
    key: str,
) -> WriteResult:
    """Send `changes` unless every value is None (nothing to change: return the record read)."""
    reference = f"{NAMES[entity]} {raw.get('Id')}"
    wanted = {name: value for name, value in changes.items() if value is not None}
    if not wanted:
        return WriteResult(reference, tuple(qb.to_records(entity, [raw], stamp)))
    body = {"Id": raw["Id"], "SyncToken": raw.get("SyncToken", "0"), "sparse": True, **wanted}
    answer = qb.api.save(PATHS[entity], body, request_id(key))
    saved = answer.get(NAMES[entity])
    if isinstance(saved, dict) and raw.get("InvoiceLink") and not saved.get("InvoiceLink"):
        answer = {**answer, NAMES[entity]: {**saved, "InvoiceLink": raw["InvoiceLink"]}}
    return WriteResult(reference, tuple(_records(qb, entity, answer)))


def send_reminder(qb: QuickBooks, command: SendReminder, key: str) -> WriteResult:
    if not command.invoice_ids:
        raise Rejected("A reminder needs at least one invoice")
    return _send(qb, command.invoice_ids, command.to, key)


def send_invoice(qb: QuickBooks, command: SendInvoice, key: str) -> WriteResult:
    return _send(qb, (command.invoice_id,), command.to, key)


def _send(qb: QuickBooks, invoice_ids: tuple[str, ...], to: str | None, key: str) -> WriteResult:
    """The provider's invoice email for each invoice, then the invoices re-read in one query."""
    for invoice_id in invoice_ids:
        qb.api.send_invoice(invoice_id, to, request_id(key, f"send:{invoice_id}"))
    raws = read_invoices(qb.api, invoice_ids)
    records = qb.to_records(Entity.INVOICE, raws, qb.clock()) if raws else []
    return WriteResult("Sent invoice " + ", ".join(invoice_ids), tuple(records))


def settle_discount(qb: QuickBooks, command: SettleDiscount, key: str) -> WriteResult:
    raw, stamp = qb.read_raw(Entity.INVOICE, command.invoice_id)
    invoice = qb.to_records(Entity.INVOICE, [raw], stamp)[0]
    assert isinstance(invoice, InvoiceRecord)
    _check_settlement(command, invoice)
    number = invoice.number or invoice.external_id
    memo = command.memo or f"Early-payment discount on invoice {number}"
    shared = _shared_fields(command, invoice, raw, memo)
    credit_body = {**shared, "Line": [_credit_line(command.amount, memo)]}
    answer = qb.api.save("creditmemo", credit_body, request_id(key, "creditmemo"))
    credit_id = _saved_id(answer, "CreditMemo")
    payment_body = {**shared, "TotalAmt": Decimal("0"), "Line": _apply_lines(command, credit_id)}
    payment = qb.api.save("payment", payment_body, request_id(key, "payment"))
    records: list[AnyRecord] = []
    invoice_after = qb.get(Entity.INVOICE, command.invoice_id)
    if invoice_after is not None:
        records.append(invoice_after)
    credit = qb.get(Entity.CREDIT_NOTE, credit_id)
    if credit is not None:
        records.append(credit)
    records.extend(_records(qb, Entity.PAYMENT, payment))
    reference = f"CreditMemo {credit_id}, Payment {_saved_id(payment, 'Payment')}"
    return WriteResult(reference, tuple(records))


def _check_settlement(command: SettleDiscount, invoice: InvoiceRecord) -> None:
    if command.amount <= 0:
        raise Rejected(f"A discount must be a positive amount, not {command.amount}")
    if invoice.customer_id != command.customer_id:
        raise Rejected(
            f"Invoice {invoice.external_id} belongs to customer {invoice.customer_id},"
            f" not {command.customer_id}"
        )
    if command.currency and invoice.currency and command.currency != invoice.currency:
        raise Rejected(
            f"Invoice {invoice.external_id} is in {invoice.currency}, not {command.currency}"
        )
    # The invoice moved on since the decision (paid, voided, or settled by an earlier attempt
    # of this very command): re-read and re-evaluate rather than over-credit.
    if invoice.status is not InvoiceStatus.OPEN or invoice.balance < command.amount:
        raise Conflict(
            f"Invoice {invoice.external_id} is {invoice.status.value} with balance"
            f" {invoice.balance}; a discount of {command.amount} no longer fits"
        )


def _shared_fields(
    command: SettleDiscount, invoice: InvoiceRecord, raw: dict[str, Any], memo: str
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "CustomerRef": {"value": command.customer_id},
        "TxnDate": command.on.isoformat(),
        "CurrencyRef": {"value": invoice.currency},
        "PrivateNote": memo,
    }
    rate = mapping.money(raw.get("ExchangeRate"), default=Decimal("1"))
    if rate != Decimal("1"):
        # Credit at the invoice's own rate, so the discount leaves no exchange difference.
        fields["ExchangeRate"] = rate
    return fields


def _credit_line(amount: Decimal, memo: str) -> dict[str, Any]:
    return {
        "Amount": amount,
        "Description": memo,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"Qty": 1, "UnitPrice": amount},
    }


def _apply_lines(command: SettleDiscount, credit_id: str) -> list[dict[str, Any]]:
    return [
        {
            "Amount": command.amount,
            "LinkedTxn": [{"TxnId": command.invoice_id, "TxnType": "Invoice"}],
        },
        {
            "Amount": command.amount,
            "LinkedTxn": [{"TxnId": credit_id, "TxnType": "CreditMemo"}],
        },
    ]


def _records(qb: QuickBooks, entity: Entity, answer: dict[str, Any]) -> list[AnyRecord]:
    raw = answer.get(NAMES[entity])
    if not isinstance(raw, dict):
        return []
    return qb.to_records(entity, [raw], qb.answer_time(answer))


def _saved_id(answer: dict[str, Any], name: str) -> str:
    raw = answer.get(name)
    if not isinstance(raw, dict) or raw.get("Id") is None:
        raise Unavailable(f"QuickBooks saved the {name} but answered without it")
    return str(raw["Id"])
