"""Writes through the QuickBooks API: invoice and customer create/update, invoice void, delete and
send, payment and credit memo creation. A `requestid` makes each of them idempotent: a repeat is
answered from memory and applies nothing. Each write says what it changed to the write log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response
from flask import request

from sandbox.quickbooks import ops
from sandbox.quickbooks import updates
from sandbox.quickbooks.online import with_links
from sandbox.quickbooks.state import current
from sandbox.quickbooks.state import render
from sandbox.quickbooks.state import stamped
from sandbox.quickbooks.store import Tx
from sandbox.writes import applied
from sandbox.writes import replayed


def write(realm_id: str, action: Callable[[Tx], dict[str, Any]]) -> Response:
    """Run a write once per requestid: a repeat returns the first response unchanged."""
    state = current()
    request_id = request.args.get("requestid")
    with state.store.lock:
        if request_id:
            saved = state.idempotency.get(realm_id, request_id)
            if saved is not None:
                replayed()
                status, original = saved
                return render(with_links(realm_id, original), status)
        with state.store.change(realm_id) as tx:
            payload = stamped(realm_id, action(tx))
            applied(*tx.changes)
        if request_id:
            state.idempotency.put(realm_id, request_id, 200, payload)
    return render(with_links(realm_id, payload))


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise updates.invalid("the request body must be a JSON object")
    return body


def invoice(realm_id: str) -> Response:
    body, operation = json_body(), request.args.get("operation", "")
    if operation in ("delete", "void"):
        return write(realm_id, lambda tx: _void_or_delete(tx, body, operation))
    if "Id" in body:
        return write(realm_id, lambda tx: {"Invoice": updates.update_invoice(tx, body)})
    args = updates.invoice_create_args(body)
    return write(realm_id, lambda tx: {"Invoice": ops.create_invoice(tx, **args)})


def _void_or_delete(tx: Tx, body: dict[str, Any], operation: str) -> dict[str, Any]:
    existing = tx.company.require("Invoice", str(body.get("Id")))
    updates.check_token(existing, body)
    if operation == "void":
        return {"Invoice": ops.void_invoice(tx, existing["Id"])}
    return {"Invoice": ops.delete_invoice(tx, existing["Id"])}


def send(realm_id: str, invoice_id: str) -> Response:
    if request.mimetype != "application/octet-stream":
        raise updates.invalid("send needs Content-Type: application/octet-stream")
    send_to = request.args.get("sendTo")
    return write(realm_id, lambda tx: {"Invoice": ops.send_invoice(tx, invoice_id, send_to)})


def customer(realm_id: str) -> Response:
    body = json_body()
    if "Id" in body:
        return write(realm_id, lambda tx: {"Customer": updates.update_customer(tx, body)})
    return write(realm_id, lambda tx: {"Customer": updates.create_customer(tx, body)})


def payment(realm_id: str) -> Response:
    body = json_body()
    if "Id" in body:
        raise updates.invalid("the sandbox only creates payments")
    args = updates.payment_create_args(body)
    return write(realm_id, lambda tx: {"Payment": ops.record_payment(tx, **args)})


def credit_memo(realm_id: str) -> Response:
    body = json_body()
    if "Id" in body:
        raise updates.invalid("the sandbox only creates credit memos")
    args = updates.credit_memo_create_args(body)
    return write(realm_id, lambda tx: {"CreditMemo": ops.create_credit_memo(tx, **args)})
