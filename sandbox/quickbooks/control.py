"""The QuickBooks control API under /_sandbox/quickbooks/ (JSON; no auth, no throttle, no faults).

Changes made here behave like a user working in QuickBooks: they bump SyncTokens and fire
webhooks. The read-only views and the knobs (summary, request log, clock, limits) are in
`control_views`.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint
from flask import Response
from flask import jsonify

from sandbox.quickbooks import control_views
from sandbox.quickbooks import ops
from sandbox.quickbooks.control_input import BadInput
from sandbox.quickbooks.control_input import amount
from sandbox.quickbooks.control_input import body_json
from sandbox.quickbooks.control_input import day
from sandbox.quickbooks.control_input import integer
from sandbox.quickbooks.entities import amount_line
from sandbox.quickbooks.state import current
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.wire import json_response


def bad_input(exc: BadInput) -> tuple[Response, int]:
    return jsonify(error=str(exc)), 400


def refused(exc: OpError) -> tuple[Response, int]:
    return jsonify(error=exc.detail, code=exc.code), 404 if exc.code in ("610", "3100") else 400


def pay(realm_id: str) -> Response:
    body = body_json()
    if "invoice_id" not in body:
        raise BadInput("invoice_id is required")
    invoice_id = str(body["invoice_id"])
    txn_date = day(body["txn_date"], "txn_date") if "txn_date" in body else None
    with current().store.change(realm_id) as tx:
        invoice = tx.company.require("Invoice", invoice_id)
        paid = amount(body["amount"], "amount") if "amount" in body else invoice["Balance"]
        if paid <= 0 or paid > invoice["Balance"]:
            raise BadInput(f"amount must be between 0.01 and the open balance {invoice['Balance']}")
        customer_id = invoice["CustomerRef"]["value"]
        links = [("Invoice", invoice_id, paid)]
        payment = ops.record_payment(tx, customer_id, paid, links, txn_date)
    return json_response({"Payment": payment})


def invoice(realm_id: str) -> Response:
    body = body_json()
    if "customer_id" not in body or "amount" not in body:
        raise BadInput("customer_id and amount are required")
    total = amount(body["amount"], "amount")
    due_in = integer(body.get("due_in_days", 30), "due_in_days")
    if due_in < 0:
        raise BadInput("due_in_days must be zero or more")
    with current().store.change(realm_id) as tx:
        txn_date = day(body["txn_date"], "txn_date") if "txn_date" in body else ops.local_today(tx)
        lines = [amount_line(1, total, str(body.get("description") or "Services"))]
        created = ops.create_invoice(
            tx,
            str(body["customer_id"]),
            lines,
            txn_date,
            txn_date + timedelta(days=due_in),
            body.get("currency"),
        )
    return json_response({"Invoice": created})


def void(realm_id: str, invoice_id: str) -> Response:
    with current().store.change(realm_id) as tx:
        return json_response({"Invoice": ops.void_invoice(tx, invoice_id)})


def delete(realm_id: str, invoice_id: str) -> Response:
    with current().store.change(realm_id) as tx:
        return json_response({"Invoice": ops.delete_invoice(tx, invoice_id)})


def merge(realm_id: str) -> Response:
    body = body_json()
    if "from" not in body or "into" not in body:
        raise BadInput('"from" and "into" customer ids are required')
    with current().store.change(realm_id) as tx:
        merged = ops.merge_customers(tx, str(body["from"]), str(body["into"]))
    return json_response({"Customer": merged})


ROUTES = (
    ("/<realm_id>/payments", pay, ["POST"]),
    ("/<realm_id>/invoices", invoice, ["POST"]),
    ("/<realm_id>/invoices/<invoice_id>/void", void, ["POST"]),
    ("/<realm_id>/invoices/<invoice_id>/delete", delete, ["POST"]),
    ("/<realm_id>/customers/merge", merge, ["POST"]),
    ("/companies", control_views.companies, ["GET"]),
    ("/<realm_id>/summary", control_views.company_summary, ["GET"]),
    ("/<realm_id>/emails", control_views.emails, ["GET"]),
    ("/<realm_id>/open-invoices", control_views.open_invoices, ["GET"]),
    ("/expire-tokens", control_views.expire_tokens, ["POST"]),
    ("/grants", control_views.grants, ["GET"]),
    ("/requests", control_views.requests_log, ["GET"]),
    ("/requests", control_views.clear_requests, ["DELETE"]),
    ("/clock", control_views.clock, ["GET"]),
    ("/clock/advance", control_views.advance, ["POST"]),
    ("/limits", control_views.limits, ["POST"]),
)


def blueprint() -> Blueprint:
    bp = Blueprint("qbo_control", __name__, url_prefix="/_sandbox/quickbooks")
    bp.register_error_handler(BadInput, bad_input)
    bp.register_error_handler(OpError, refused)
    for rule, view, methods in ROUTES:
        bp.add_url_rule(rule, f"{view.__name__}_{methods[0].lower()}", view, methods=methods)
    return bp
