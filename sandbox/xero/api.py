"""Reads under /xero/api.xro/2.0: Organisation, Currencies, the paged collections, single
objects, history.

Resource names are matched case-insensitively, as Xero does. A single object still comes back
inside its collection's array.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import request

from sandbox import page_cache
from sandbox.page_cache import marker
from sandbox.page_cache import spliced
from sandbox.xero import gate
from sandbox.xero import online
from sandbox.xero.history import contact_history
from sandbox.xero.history import invoice_history
from sandbox.xero.models import Ledger
from sandbox.xero.queries import BadQuery
from sandbox.xero.queries import run
from sandbox.xero.render import render_contact
from sandbox.xero.render import render_currencies
from sandbox.xero.render import render_invoice
from sandbox.xero.render import render_org
from sandbox.xero.render_docs import render_doc
from sandbox.xero.render_docs import render_group
from sandbox.xero.render_docs import render_history
from sandbox.xero.render_docs import render_payment
from sandbox.xero.resources import COLLECTIONS
from sandbox.xero.responses import dumps
from sandbox.xero.responses import envelope
from sandbox.xero.responses import json_response
from sandbox.xero.responses import json_text_response
from sandbox.xero.responses import not_found
from sandbox.xero.responses import query_error
from sandbox.xero.responses import validation_error
from sandbox.xero.state import current
from sandbox.xero.state import current_store
from sandbox.xero.store import Invalid
from sandbox.xero.where import Inefficient
from sandbox.xero.where import WhereError

bp = Blueprint("xero_api", __name__, url_prefix="/xero/api.xro/2.0")
bp.before_request(gate.api_before)
bp.after_request(gate.api_after)
bp.teardown_request(gate.api_teardown)

CANONICAL = {
    name.lower(): name for name in (*COLLECTIONS, "Organisation", "ContactGroups", "Currencies")
}
# Xero documents /Organisation; tap-xero and many integrations' connection checks call
# /Organisations, and get the same answer.
CANONICAL["organisations"] = "Organisation"


def ok(key: str, items: list[Any], pagination: dict[str, int] | None = None) -> Response:
    return json_response(envelope(current().clock, key, items, pagination))


@bp.get("/<name>")
def list_resource(name: str) -> Response:
    resource = CANONICAL.get(name.lower())
    ledger: Ledger = g.xero_ledger
    if resource == "Organisation":
        return ok("Organisations", [render_org(ledger.org)])
    if resource == "Currencies":
        return ok("Currencies", render_currencies(ledger.org))
    if resource == "ContactGroups":
        with current_store().lock:
            groups = [
                render_group(ledger, grp)
                for grp in ledger.groups.values()
                if grp.status == "ACTIVE"
            ]
        return ok("ContactGroups", groups)
    if resource is None:
        return not_found()
    return _list(resource, ledger)


def _list(resource: str, ledger: Ledger) -> Response:
    try:
        pagination, items = _listed(resource, ledger)
    except BadQuery as exc:
        if exc.plain:
            return Response(str(exc), status=400, content_type="text/html")
        return query_error(str(exc))
    except Inefficient as exc:
        return json_response(
            {"ErrorNumber": 10, "Type": "ValidationException", "Message": str(exc), "Elements": []},
            400,
        )
    except WhereError as exc:
        return query_error(str(exc))
    paged = marker(1) if pagination != "null" else None
    body = envelope(current().clock, resource, marker(0), paged)
    return json_text_response(spliced(dumps, body, [items, pagination]))


def _listed(resource: str, ledger: Ledger) -> tuple[str, str]:
    """The JSON texts of a listing's pagination block ("null" unpaged) and of its items,
    rendered once per data version and calendar day (sandbox.page_cache)."""
    store = current_store()
    today = store.today()
    key = (
        "xero-list",
        ledger.org.tenant_id,
        resource,
        tuple(request.args.items(multi=True)),
        request.headers.get("If-Modified-Since"),
        today,
        store.version,
    )

    def render() -> tuple[str, str]:
        with store.lock:
            items, pagination = run(
                COLLECTIONS[resource], ledger, request.args, request.headers, today
            )
        return dumps(pagination), dumps(items)

    pagination, items = page_cache.current(current_app).page(key, render)
    return pagination, items


@bp.get("/<name>/<key>")
def get_one(name: str, key: str) -> Response:
    resource = CANONICAL.get(name.lower())
    ledger: Ledger = g.xero_ledger
    with current_store().lock:
        body = _one(resource, ledger, key)
    return not_found() if body is None else ok(resource or "", [body])


def _one(resource: str | None, ledger: Ledger, key: str) -> dict[str, Any] | None:
    key_lower = key.lower()
    if resource == "Invoices":
        inv = ledger.invoices.get(key_lower) or _by_number(ledger.invoices.values(), key)
        return render_invoice(ledger, inv, lines=True, full_contact=True) if inv else None
    if resource == "Contacts":
        contact = ledger.contacts.get(key_lower) or _by_number(ledger.contacts.values(), key)
        return render_contact(ledger, contact, current_store().today()) if contact else None
    if resource == "Payments":
        payment = ledger.payments.get(key_lower)
        return render_payment(ledger, payment) if payment else None
    if resource == "ContactGroups":
        group = ledger.groups.get(key_lower)
        return render_group(ledger, group, members=True) if group else None
    kinds = {
        "CreditNotes": "creditnote",
        "Overpayments": "overpayment",
        "Prepayments": "prepayment",
    }
    if resource in kinds:
        docs = ledger.docs(kinds[resource])
        doc = docs.get(key_lower) or _by_number(docs.values(), key)
        return render_doc(ledger, doc) if doc else None
    return None


def _by_number(items: Any, number: str) -> Any:
    return next((item for item in items if item.number and item.number == number), None)


@bp.get("/<name>/<key>/History")
def get_history(name: str, key: str) -> Response:
    resource = CANONICAL.get(name.lower())
    ledger: Ledger = g.xero_ledger
    with current_store().lock:
        if resource == "Invoices" and key.lower() in ledger.invoices:
            records = invoice_history(ledger, ledger.invoices[key.lower()])
        elif resource == "Contacts" and key.lower() in ledger.contacts:
            records = contact_history(ledger.contacts[key.lower()])
        else:
            return not_found()
        return ok("HistoryRecords", render_history(ledger, records))


@bp.get("/Invoices/<key>/OnlineInvoice")
def online_invoice(key: str) -> Response:
    ledger: Ledger = g.xero_ledger
    invoice = ledger.invoices.get(key.lower())
    if invoice is None:
        return not_found()
    link = online.url(ledger, invoice)
    if link is None:
        message = f"An online invoice cannot be retrieved for an invoice that is {invoice.status}"
        return validation_error(Invalid(message, {"InvoiceID": invoice.id}))
    return ok("OnlineInvoices", [{"OnlineInvoiceUrl": link}])
