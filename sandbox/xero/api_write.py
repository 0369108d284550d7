"""Writes under /xero/api.xro/2.0 that Dunwell's write-back uses: email an invoice, change its
status, add history notes, contact groups (credit hold), credit notes and their allocations.

Errors come back as Xero's 400 ValidationException; unknown ids as 404. Each write tells the
write log what it changed (`applied`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask import g

from sandbox.writes import applied
from sandbox.xero import mutations
from sandbox.xero import mutations_credit
from sandbox.xero import mutations_groups
from sandbox.xero.api import bp
from sandbox.xero.api import ok
from sandbox.xero.gate import json_body
from sandbox.xero.models import Ledger
from sandbox.xero.render import render_invoice
from sandbox.xero.render_docs import doc_key
from sandbox.xero.render_docs import render_allocation
from sandbox.xero.render_docs import render_doc
from sandbox.xero.render_docs import render_group
from sandbox.xero.render_docs import render_history
from sandbox.xero.responses import not_found
from sandbox.xero.responses import validation_error
from sandbox.xero.state import current_store
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound

NO_JSON = "The request body is missing or is not valid JSON"


def guarded(action: Callable[[Ledger], Response]) -> Response:
    """Runs `action` under the store lock, mapping Invalid to 400 and NotFound to 404."""
    try:
        with current_store().lock:
            return action(g.xero_ledger)
    except Invalid as exc:
        return validation_error(exc)
    except NotFound:
        return not_found()


def _name(ledger: Ledger, kind: str, object_id: str) -> str:
    if kind == "invoice":
        return f"invoice {ledger.invoices[object_id.lower()].number}"
    return f"contact {ledger.contacts[object_id.lower()].name}"


def items(body: Any, key: str) -> list[Any]:
    """`{"Key": [...]}` or a bare object, as Xero accepts both; never empty."""
    if isinstance(body, dict) and isinstance(body.get(key), list) and body[key]:
        return body[key]
    if isinstance(body, dict) and body and key not in body:
        return [body]
    raise Invalid(NO_JSON if body is None else f"The body must hold a non-empty {key} array")


@bp.post("/Invoices/<invoice_id>/Email")
def email_invoice(invoice_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        recipients = mutations.email_invoice(current_store(), ledger, invoice_id.lower())
        number = ledger.invoices[invoice_id.lower()].number
        applied(f"Invoice {number} emailed to {', '.join(recipients)}; SentToContact true")
        return Response(status=204)

    return guarded(act)


@bp.post("/Invoices/<invoice_id>")
def update_invoice(invoice_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        spec = items(json_body(), "Invoices")[0]
        store = current_store()
        invoice = mutations.get_invoice(ledger, invoice_id.lower())
        unsupported = set(spec) - {"InvoiceID", "Status", "SentToContact"}
        if unsupported:
            raise Invalid(
                f"The sandbox only updates Status and SentToContact, not "
                f"{', '.join(sorted(unsupported))}",
                spec,
            )
        if "Status" in spec:
            before = invoice.status
            mutations.set_invoice_status(store, ledger, invoice.id, str(spec["Status"]))
            applied(f"Invoice {invoice.number} status {before} -> {invoice.status}")
        if spec.get("SentToContact") is True and not invoice.sent_to_contact:
            invoice.sent_to_contact = True
            store.touch(ledger, invoice)
            store.changed(ledger, "INVOICE", "UPDATE", invoice.id)
            applied(f"Invoice {invoice.number} marked as sent")
        return ok("Invoices", [render_invoice(ledger, invoice, lines=True, full_contact=True)])

    return guarded(act)


@bp.put("/Invoices/<object_id>/History")
def invoice_notes(object_id: str) -> Response:
    return _notes("invoice", object_id)


@bp.put("/Contacts/<object_id>/History")
def contact_notes(object_id: str) -> Response:
    return _notes("contact", object_id)


def _notes(kind: str, object_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        records = items(json_body(), "HistoryRecords")
        details = [r.get("Details") if isinstance(r, dict) else None for r in records]
        added = mutations.add_notes(current_store(), ledger, kind, object_id.lower(), details)
        applied(*(f"History note on {_name(ledger, kind, object_id)}: {r.details}" for r in added))
        return ok("HistoryRecords", render_history(ledger, added))

    return guarded(act)


@bp.put("/ContactGroups")
def create_groups() -> Response:
    def act(ledger: Ledger) -> Response:
        groups = mutations_groups.create_groups(
            current_store(), ledger, items(json_body(), "ContactGroups")
        )
        applied(*(f"Contact group {group.name!r} created" for group in groups))
        return ok("ContactGroups", [render_group(ledger, group) for group in groups])

    return guarded(act)


@bp.post("/ContactGroups/<group_id>")
def update_group(group_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        spec = items(json_body(), "ContactGroups")[0]
        group = mutations_groups.update_group(current_store(), ledger, group_id.lower(), spec)
        applied(f"Contact group {group.name!r} is {group.status}")
        return ok("ContactGroups", [render_group(ledger, group)])

    return guarded(act)


@bp.put("/ContactGroups/<group_id>/Contacts")
def add_group_contacts(group_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        specs = items(json_body(), "Contacts")
        ids = [str(s.get("ContactID", "")).lower() if isinstance(s, dict) else "" for s in specs]
        group = mutations_groups.add_members(current_store(), ledger, group_id.lower(), ids)
        applied(*(f"{ledger.contacts[cid].name} is in contact group {group.name!r}" for cid in ids))
        return ok(
            "Contacts",
            [
                {"ContactID": cid, "Name": ledger.contacts[cid].name, "HasValidationErrors": False}
                for cid in ids
            ],
        )

    return guarded(act)


@bp.delete("/ContactGroups/<group_id>/Contacts/<contact_id>")
def remove_group_contact(group_id: str, contact_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        group = mutations_groups.get_group(ledger, group_id.lower())
        was_member = contact_id.lower() in group.contact_ids
        mutations_groups.remove_member(
            current_store(), ledger, group_id.lower(), contact_id.lower()
        )
        if was_member:
            name = ledger.contacts[contact_id.lower()].name
            applied(f"{name} left contact group {group.name!r}")
        return Response(status=204)

    return guarded(act)


@bp.delete("/ContactGroups/<group_id>/Contacts")
def clear_group(group_id: str) -> Response:
    def act(ledger: Ledger) -> Response:
        mutations_groups.clear_group(current_store(), ledger, group_id.lower())
        applied(
            f"Contact group {mutations_groups.get_group(ledger, group_id.lower()).name!r} emptied"
        )
        return Response(status=204)

    return guarded(act)


@bp.put("/CreditNotes")
def create_credit_notes() -> Response:
    def act(ledger: Ledger) -> Response:
        specs = items(json_body(), "CreditNotes")
        docs = mutations_credit.create_credit_notes(current_store(), ledger, specs)
        applied(
            *(
                f"Credit note {d.number or d.id} ({d.status}) for {d.total} {d.currency}"
                for d in docs
            )
        )
        return ok("CreditNotes", [render_doc(ledger, doc) for doc in docs])

    return guarded(act)


@bp.put("/<any(CreditNotes, Overpayments, Prepayments):resource>/<doc_id>/Allocations")
def allocate(resource: str, doc_id: str) -> Response:
    kind = {
        "CreditNotes": "creditnote",
        "Overpayments": "overpayment",
        "Prepayments": "prepayment",
    }[resource]

    def act(ledger: Ledger) -> Response:
        specs = items(json_body(), "Allocations")
        doc, ids = mutations_credit.allocate(current_store(), ledger, kind, doc_id.lower(), specs)
        for allocation in (a for a in doc.allocations if a.id in ids):
            number = ledger.invoices[allocation.invoice_id].number
            applied(f"{allocation.amount} of {doc.number or doc.id} allocated to invoice {number}")
        rendered = [render_allocation(ledger, doc, aid, with_doc=True) for aid in ids]
        for shown in rendered:
            shown[doc_key(doc)] = render_doc(ledger, doc, lines=False)
        return ok("Allocations", rendered)

    return guarded(act)
