"""The QuickBooks Accounting API under /qbo/v3/company/<realmId>/: the gate and the reads.

Every request passes the gate: armed fault, bearer token (401 in QBO's lower-case form),
per-realm throttle (429 as XML), then the handler. Responses are JSON only for
`Accept: application/json`, XML otherwise, as QBO does. Invoices carry InvoiceLink only when
asked with `include=invoiceLink` (see `online`). Writes live in `api_writes`.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from sandbox.page_cache import marker
from sandbox.page_cache import spliced
from sandbox.quickbooks import api_writes
from sandbox.quickbooks import batch
from sandbox.quickbooks import state as gate
from sandbox.quickbooks import updates
from sandbox.quickbooks.answers import query_answer
from sandbox.quickbooks.online import with_links
from sandbox.quickbooks.query import cdc
from sandbox.quickbooks.query import parser_error
from sandbox.quickbooks.query import respond
from sandbox.quickbooks.state import QboState
from sandbox.quickbooks.state import current
from sandbox.quickbooks.state import render
from sandbox.quickbooks.state import stamped
from sandbox.quickbooks.state import wants_json
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.wire import auth_fault
from sandbox.quickbooks.wire import dumps
from sandbox.quickbooks.wire import envelope_time
from sandbox.quickbooks.wire import fault_payload
from sandbox.quickbooks.wire import json_text_response
from sandbox.quickbooks.wire import parse_instant
from sandbox.quickbooks.wire import throttle_response

READABLE = {
    "customer": "Customer",
    "invoice": "Invoice",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "term": "Term",
}


def _authorize(state: QboState, realm_id: str) -> Response | None:
    header = request.headers.get("Authorization", "")
    epoch_ms = int(state.clock.precise_now().timestamp() * 1000)
    if not header.lower().startswith("bearer "):
        return auth_fault("Token missing: no bearer token in the Authorization header", epoch_ms)
    grant, reason = state.grants.check_access(header[7:].strip())
    if grant is None or state.faults.revoked(gate.PROVIDER, realm_id):
        return auth_fault(reason or "Token revoked", epoch_ms)
    if grant.realm_id != realm_id:
        payload = fault_payload(
            "3100",
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "The token is not valid for this company",
            state.home_time(),
            kind="AuthorizationFault",
        )
        return render(payload, 403)
    return None


def _gate() -> Response | None:
    state = current()
    early = gate.begin(state)
    if early is not None:
        return early
    realm_id = (request.view_args or {}).get("realm_id", "")
    denied = _authorize(state, realm_id)
    if denied is not None:
        return denied
    if not state.limiter.enter(realm_id):
        return throttle_response(state.home_time())
    g.qbo_realm = realm_id
    gate.slow_down()
    return None


def _teardown(_: BaseException | None) -> None:
    realm_id = getattr(g, "qbo_realm", None)
    if realm_id:
        current().limiter.leave(realm_id)
        g.qbo_realm = None


def _op_error(exc: OpError) -> Response:
    state = current()
    realm_id = (request.view_args or {}).get("realm_id", "")
    company = state.store.companies.get(realm_id)
    now = state.clock.precise_now()
    when = envelope_time(now, company.tz) if company else state.home_time()
    return render(fault_payload(exc.code, exc.message, exc.detail, when), exc.status)


def query(realm_id: str) -> Response:
    if request.method == "POST":
        if request.mimetype not in ("application/text", "text/plain"):
            raise parser_error("POST a query with Content-Type: application/text")
        text = request.get_data(as_text=True)
    else:
        text = request.args.get("query", "")
    if wants_json():
        answer = query_answer(realm_id, text)
        payload = stamped(realm_id, {"QueryResponse": marker(0)})
        return json_text_response(spliced(dumps, payload, [answer]))
    store = current().store
    with store.lock:
        body = respond(text, store.company(realm_id))
    return render(with_links(realm_id, stamped(realm_id, {"QueryResponse": body})))


def change_data_capture(realm_id: str) -> Response:
    names = [n for n in request.args.get("entities", "").split(",") if n.strip()]
    since_text = request.args.get("changedSince", "")
    if not names or not since_text:
        raise updates.invalid("entities and changedSince are required", code="2020")
    state = current()
    with state.store.lock:
        co = state.store.company(realm_id)
        try:
            since = parse_instant(since_text, co.tz)
        except ValueError as exc:
            raise updates.invalid(f"changedSince is not a date-time: {since_text}") from exc
        responses = cdc(co, names, since, state.clock.now())
    payload = stamped(realm_id, {"CDCResponse": [{"QueryResponse": responses}]})
    return render(with_links(realm_id, payload))


def read(realm_id: str, kind: str, entity_id: str) -> Response:
    if kind == "companyinfo":
        name, entity_id = "CompanyInfo", "1" if entity_id == realm_id else "-"
    elif kind in READABLE:
        name = READABLE[kind]
    else:
        return Response("Not Found", status=404)
    store = current().store
    with store.lock:
        entity = store.company(realm_id).require(name, entity_id)
    return render(with_links(realm_id, stamped(realm_id, {name: entity})))


def preferences(realm_id: str) -> Response:
    store = current().store
    with store.lock:
        entity = store.company(realm_id).require("Preferences", "1")
    return render(stamped(realm_id, {"Preferences": entity}))


ROUTES = (
    ("/query", query, ["GET", "POST"]),
    ("/batch", batch.run, ["POST"]),
    ("/cdc", change_data_capture, ["GET"]),
    ("/preferences", preferences, ["GET"]),
    ("/<kind>/<entity_id>", read, ["GET"]),
    ("/invoice", api_writes.invoice, ["POST"]),
    ("/invoice/<invoice_id>/send", api_writes.send, ["POST"]),
    ("/customer", api_writes.customer, ["POST"]),
    ("/payment", api_writes.payment, ["POST"]),
    ("/creditmemo", api_writes.credit_memo, ["POST"]),
)


def blueprint(state: QboState) -> Blueprint:
    bp = Blueprint("qbo_api", __name__, url_prefix="/qbo/v3/company/<realm_id>")
    bp.before_request(_gate)
    bp.after_request(lambda response: gate.finish(state, response))
    bp.teardown_request(_teardown)
    bp.register_error_handler(OpError, _op_error)
    for rule, view, methods in ROUTES:
        bp.add_url_rule(rule, view.__name__, view, methods=methods)
    return bp
