"""Write-back to Xero: reminders, notes, credit holds and early-payment discounts.

Each HTTP write carries an `Idempotency-Key` derived from the action's key and the step
(`<key>:email:<invoice>`, `<key>:credit-note`, ...), so a retried action repeats no step Xero has
already done. Xero limits the header to 128 characters; longer keys are hashed.

- SendInvoice and SendReminder: POST Invoices/{id}/Email for each invoice. Xero sends its own
  template from the organisation's settings to the contact's addresses; it cannot take our
  subject, body or recipient, so those are ignored here (send your own email if the wording
  matters). Xero refuses DRAFT, VOIDED and DELETED invoices with a 400 ValidationException,
  raised as Rejected with Xero's message. The invoices are re-read (SentToContact true).
- AddNote: PUT {Invoices|Contacts|Payments|CreditNotes|...}/{id}/History (append-only).
- SetCreditHold: Xero has no hold flag; the contact joins or leaves a contact group named
  "Credit hold" (found by name, created when first needed), and the reason goes to its history.
- SettleDiscount: an AUTHORISED ACCRECCREDIT credit note with one line for the amount, then
  PUT CreditNotes/{id}/Allocations against the invoice (works after part payment, unlike
  editing line discounts).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from providers.base import AddNote
from providers.base import AnyRecord
from providers.base import Entity
from providers.base import NotFound
from providers.base import Rejected
from providers.base import SendInvoice
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import WriteCommand
from providers.base import WriteResult
from providers.xero import reads
from providers.xero.api import MAX_IDEMPOTENCY_KEY
from providers.xero.api import XeroApi
from providers.xero.mapping import money

HOLD_GROUP = "Credit hold"
_HISTORY_PATHS = {
    Entity.INVOICE: "Invoices",
    Entity.CUSTOMER: "Contacts",
    Entity.PAYMENT: "Payments",
}


def step_key(key: str, *steps: str) -> str:
    """The Idempotency-Key of one step of an action: stable, distinct, at most 128 chars."""
    full = ":".join((key, *steps))
    if len(full) <= MAX_IDEMPOTENCY_KEY:
        return full
    return "dunwell-" + hashlib.sha256(full.encode("utf-8")).hexdigest()


def _q(xero_id: str) -> str:
    return quote(xero_id, safe="")


class Writer:
    """Carries out write commands for one tenant; remembers the hold group once found."""

    def __init__(self, api: XeroApi) -> None:
        self._api = api
        self._hold_group: str | None = None

    def write(self, command: WriteCommand, key: str) -> WriteResult:
        if isinstance(command, SendReminder):
            return self.send_reminder(command, key)
        if isinstance(command, SendInvoice):
            return self._email((command.invoice_id,), key)
        if isinstance(command, AddNote):
            return self.add_note(command, key)
        if isinstance(command, SetCreditHold):
            return self.set_credit_hold(command, key)
        if isinstance(command, SettleDiscount):
            return self.settle_discount(command, key)
        raise TypeError(f"not a write command: {command!r}")

    def send_reminder(self, command: SendReminder, key: str) -> WriteResult:
        if not command.invoice_ids:
            raise Rejected("A reminder needs at least one invoice.")
        return self._email(command.invoice_ids, key)

    def _email(self, invoice_ids: tuple[str, ...], key: str) -> WriteResult:
        for invoice_id in invoice_ids:
            path = f"Invoices/{_q(invoice_id)}/Email"
            self._api.post(path, {}, idempotency_key=step_key(key, "email", invoice_id))
        # Emailing sets SentToContact; hand back the new versions so the echo changes nothing.
        records = reads.invoices(self._api, invoice_ids)
        return WriteResult(reference="emailed:" + ",".join(invoice_ids), records=tuple(records))

    def add_note(self, command: AddNote, key: str) -> WriteResult:
        self._history(command.entity, command.external_id, command.text, step_key(key, "note"))
        # A history record bumps the target's UpdatedDateUTC; hand back the new version.
        return WriteResult(
            reference=f"history:{command.entity}:{command.external_id}",
            records=self._reread(command.entity, command.external_id),
        )

    def _reread(self, entity: Entity, external_id: str) -> tuple[AnyRecord, ...]:
        record = reads.get(self._api, entity, external_id)
        return (record,) if record is not None else ()

    def _history(self, entity: Entity, external_id: str, text: str, key: str) -> None:
        if not text.strip():
            raise Rejected("A note needs some text.")
        if entity is Entity.CREDIT_NOTE:
            prefix, stream = reads.credit_stream(external_id)
            path = f"{stream.path}/{_q(external_id[len(prefix) :])}/History"
        else:
            path = f"{_HISTORY_PATHS[entity]}/{_q(external_id)}/History"
        self._api.put(path, {"HistoryRecords": [{"Details": text}]}, idempotency_key=key)

    def set_credit_hold(self, command: SetCreditHold, key: str) -> WriteResult:
        group = self._find_hold_group(create=command.on_hold, key=step_key(key, "group"))
        contact = _q(command.customer_id)
        if group and command.on_hold:
            body = {"Contacts": [{"ContactID": command.customer_id}]}
            path = f"ContactGroups/{_q(group)}/Contacts"
            self._api.put(path, body, idempotency_key=step_key(key, "join"))
        elif group:
            try:
                self._api.delete(f"ContactGroups/{_q(group)}/Contacts/{contact}")
            except NotFound:
                pass  # not a member: nothing to release
        if command.reason.strip():
            verb = "placed on" if command.on_hold else "released from"
            text = f"Dunwell: {verb} credit hold. {command.reason.strip()}"
            self._history(Entity.CUSTOMER, command.customer_id, text, step_key(key, "note"))
        return WriteResult(
            reference=f"contact-group:{group or 'none'}",
            records=self._reread(Entity.CUSTOMER, command.customer_id),
        )

    def _find_hold_group(self, *, create: bool, key: str) -> str | None:
        if self._hold_group:
            return self._hold_group
        # Only ACTIVE groups are listed; ContactGroups has no If-Modified-Since, so list all.
        groups = reads.documents(self._api.get("ContactGroups"), "ContactGroups")
        found = [g for g in groups if str(g.get("Name", "")).strip().lower() == HOLD_GROUP.lower()]
        if not found and create:
            body = {"ContactGroups": [{"Name": HOLD_GROUP}]}
            answer = self._api.put("ContactGroups", body, idempotency_key=key)
            found = reads.documents(answer, "ContactGroups")
        self._hold_group = str(found[0]["ContactGroupID"]) if found else None
        return self._hold_group

    def settle_discount(self, command: SettleDiscount, key: str) -> WriteResult:
        invoice = self._invoice_document(command.invoice_id)
        line = _check_settlement(invoice, command)
        body = {"CreditNotes": [_credit_note(invoice, command, line)]}
        created = reads.documents(
            self._api.put("CreditNotes", body, idempotency_key=step_key(key, "credit-note")),
            "CreditNotes",
        )
        if not created or not created[0].get("CreditNoteID"):
            raise Rejected("Xero did not return the credit note it created.")
        credit_id = str(created[0]["CreditNoteID"])
        allocation = {
            "Invoice": {"InvoiceID": command.invoice_id},
            "Amount": command.amount,
            "Date": command.on.isoformat(),
        }
        self._api.put(
            f"CreditNotes/{_q(credit_id)}/Allocations",
            {"Allocations": [allocation]},
            idempotency_key=step_key(key, "allocation"),
        )
        records: list[AnyRecord | None] = [
            reads.get(self._api, Entity.INVOICE, command.invoice_id),
            reads.get(self._api, Entity.CREDIT_NOTE, credit_id),
        ]
        return WriteResult(reference=credit_id, records=tuple(r for r in records if r))

    def _invoice_document(self, invoice_id: str) -> dict[str, Any]:
        # The /{id} read returns line items (account and tax type to credit).
        found = reads.documents(self._api.get(f"Invoices/{_q(invoice_id)}"), "Invoices")
        if not found:
            raise NotFound(f"Xero has no invoice {invoice_id}")
        return found[0]


def _check_settlement(invoice: dict[str, Any], command: SettleDiscount) -> dict[str, Any]:
    """The invoice line whose account the discount credits, or Rejected with the reason."""
    number = invoice.get("InvoiceNumber") or command.invoice_id
    contact = str((invoice.get("Contact") or {}).get("ContactID") or "")
    due = money(invoice.get("AmountDue"))
    if invoice.get("Type") != "ACCREC":
        raise Rejected(f"Invoice {number} is not a sales invoice.")
    status = invoice.get("Status")
    currency = invoice.get("CurrencyCode") or ""
    if status != "AUTHORISED":
        raise Rejected(f"Invoice {number} is {status}; Xero only credits approved invoices.")
    if contact.lower() != command.customer_id.lower():
        raise Rejected(f"Invoice {number} belongs to another customer.")
    if currency != command.currency:
        raise Rejected(f"Invoice {number} is in {currency}, not {command.currency}.")
    if not Decimal("0") < command.amount <= due:
        raise Rejected(f"A discount of {command.amount} does not fit the {due} due on {number}.")
    line = next((li for li in invoice.get("LineItems") or [] if li.get("AccountCode")), None)
    if not isinstance(line, dict):
        raise Rejected(f"Invoice {number} has no line with an account code to credit.")
    return line


def _credit_note(
    invoice: dict[str, Any], command: SettleDiscount, line: dict[str, Any]
) -> dict[str, Any]:
    number = invoice.get("InvoiceNumber") or command.invoice_id
    text = command.memo.strip() or f"Early-payment discount on invoice {number}"
    item: dict[str, Any] = {
        "Description": text,
        "Quantity": Decimal("1"),
        "UnitAmount": command.amount,
        "AccountCode": line["AccountCode"],
    }
    if line.get("TaxType"):
        # Same tax treatment as the sale; amounts are tax-inclusive so the total is the discount.
        item["TaxType"] = line["TaxType"]
    return {
        "Type": "ACCRECCREDIT",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": command.customer_id},
        "Date": command.on.isoformat(),
        "CurrencyCode": command.currency,
        "Reference": text[:255],
        "LineAmountTypes": "Inclusive",
        "LineItems": [item],
    }
