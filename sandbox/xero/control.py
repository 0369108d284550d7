"""The Xero sandbox's control API under /_sandbox/xero (JSON), for tests, the demo and benches.

It reads the ledgers without the API's auth or limits, makes changes that fire the same
webhooks as real changes, moves the sandbox clock, expires tokens, runs Xero's
intent-to-receive check against the configured webhook URL, and exposes the request log.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from sandbox.xero import mutations
from sandbox.xero.dates import event_string
from sandbox.xero.dates import parse_body_date
from sandbox.xero.models import ZERO
from sandbox.xero.models import Ledger
from sandbox.xero.render import render_contact
from sandbox.xero.render import render_invoice
from sandbox.xero.render_docs import render_payment
from sandbox.xero.responses import json_response
from sandbox.xero.state import current
from sandbox.xero.state import current_store
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound
from sandbox.xero.store import parse_amount

bp = Blueprint("xero_control", __name__, url_prefix="/_sandbox/xero")
BUCKETS = ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"))


class BadInput(ValueError):
    pass


@bp.errorhandler(BadInput)
@bp.errorhandler(Invalid)
def bad_input(exc: Exception) -> Response:
    return json_response({"error": str(exc)}, 400)


@bp.errorhandler(NotFound)
def missing(exc: Exception) -> Response:
    return json_response({"error": str(exc)}, 404)


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def _ledger(tenant_id: str) -> Ledger:
    ledger = current_store().ledger(tenant_id.lower())
    if ledger is None:
        raise NotFound(f"unknown tenant {tenant_id}; see GET /_sandbox/xero/organisations")
    return ledger


@bp.get("/organisations")
def organisations() -> Response:
    rows = [
        {
            "tenantId": o.tenant_id,
            "name": o.name,
            "shortCode": o.short_code,
            "baseCurrency": o.base_currency,
            "timezone": o.timezone,
            "countryCode": o.country_code,
        }
        for o in (ledger.org for ledger in current_store().ledgers.values())
    ]
    return json_response({"organisations": rows})


@bp.get("/<tenant_id>/open-invoices")
def open_invoices(tenant_id: str) -> Response:
    """The oldest open sales invoices, so a person (or the demo) can pick one to pay."""
    store = current_store()
    with store.lock:
        ledger = _ledger(tenant_id)
        rows = [
            {
                "id": inv.id,
                "number": inv.number,
                "customer": ledger.contacts[inv.contact_id].name
                if inv.contact_id in ledger.contacts
                else inv.contact_id,
                "currency": inv.currency,
                "balance": f"{inv.amount_due:.2f}",
                "due_date": inv.due_date.isoformat(),
            }
            for inv in ledger.invoices.values()
            if inv.type == "ACCREC" and inv.status == "AUTHORISED" and inv.amount_due > 0
        ]
    rows.sort(key=lambda row: (row["due_date"], row["number"]))
    return json_response({"invoices": rows[:20]})


@bp.get("/<tenant_id>/summary")
def summary(tenant_id: str) -> Response:
    store = current_store()
    with store.lock:
        return json_response(_summary(_ledger(tenant_id), store.today()))


def _summary(ledger: Ledger, today: date) -> dict[str, Any]:
    contacts = list(ledger.contacts.values())
    by_type: dict[str, Counter[str]] = {"ACCREC": Counter(), "ACCPAY": Counter()}
    open_due: dict[str, Decimal] = {}
    ageing: dict[str, dict[str, Decimal]] = {}
    for inv in ledger.invoices.values():
        by_type[inv.type][inv.status] += 1
        if inv.type == "ACCREC" and inv.status == "AUTHORISED":
            open_due[inv.currency] = open_due.get(inv.currency, ZERO) + inv.amount_due
            bucket = ageing.setdefault(inv.currency, {})
            name = _bucket((today - inv.due_date).days)
            bucket[name] = bucket.get(name, ZERO) + inv.amount_due
    return {
        "tenantId": ledger.org.tenant_id,
        "name": ledger.org.name,
        "today": today.isoformat(),
        "contacts": {
            "total": len(contacts),
            "active": sum(c.status == "ACTIVE" for c in contacts),
            "archived": sum(c.status == "ARCHIVED" for c in contacts),
            "customers": sum(c.is_customer for c in contacts),
        },
        "invoices": {kind: dict(sorted(counts.items())) for kind, counts in by_type.items()},
        "payments": len(ledger.payments),
        "batchPayments": len(ledger.batch_payments),
        "creditNotes": len(ledger.credit_notes),
        "overpayments": len(ledger.overpayments),
        "prepayments": len(ledger.prepayments),
        "openAmountDue": {cur: f"{value:.2f}" for cur, value in sorted(open_due.items())},
        "ageing": {
            cur: {name: f"{value:.2f}" for name, value in buckets.items()}
            for cur, buckets in sorted(ageing.items())
        },
    }


def _bucket(days_overdue: int) -> str:
    for limit, name in BUCKETS:
        if days_overdue <= limit:
            return name
    return "90+"


def _amount(body: dict[str, Any], required: bool) -> Decimal | None:
    if body.get("amount") is None and not required:
        return None
    return _required_amount(body)


def _required_amount(body: dict[str, Any]) -> Decimal:
    value = parse_amount(body.get("amount"))
    if value is None:
        raise BadInput('amount must be a positive decimal, e.g. "12.34"')
    return value


def _date(body: dict[str, Any], name: str) -> date | None:
    if body.get(name) is None:
        return None
    value = parse_body_date(body[name])
    if value is None:
        raise BadInput(f"{name} must be a date like 2026-05-01")
    return value


@bp.post("/<tenant_id>/payments")
def add_payment(tenant_id: str) -> Response:
    body, store = _body(), current_store()
    if not isinstance(body.get("invoice_id"), str):
        raise BadInput("invoice_id is required")
    with store.lock:
        ledger = _ledger(tenant_id)
        payment = mutations.add_payment(
            store,
            ledger,
            body["invoice_id"].lower(),
            _amount(body, required=False),
            _date(body, "date"),
            str(body.get("reference", "")),
        )
        return json_response(render_payment(ledger, payment), 201)


@bp.post("/<tenant_id>/invoices")
def add_invoice(tenant_id: str) -> Response:
    body, store = _body(), current_store()
    if not isinstance(body.get("contact_id"), str):
        raise BadInput("contact_id is required")
    due_in = body.get("due_in_days", 30)
    if not isinstance(due_in, int) or isinstance(due_in, bool):
        raise BadInput("due_in_days must be a whole number")
    with store.lock:
        ledger = _ledger(tenant_id)
        invoice = mutations.create_invoice(
            store,
            ledger,
            body["contact_id"].lower(),
            _required_amount(body),
            due_in,
            reference=str(body.get("reference", "")),
            status=str(body.get("status", "AUTHORISED")),
            description=str(body.get("description", "Services rendered")),
            issued=_date(body, "date"),
        )
        return json_response(render_invoice(ledger, invoice, lines=True), 201)


@bp.post("/<tenant_id>/invoices/<invoice_id>/void")
def void_invoice(tenant_id: str, invoice_id: str) -> Response:
    store = current_store()
    with store.lock:
        ledger = _ledger(tenant_id)
        invoice = mutations.set_invoice_status(store, ledger, invoice_id.lower(), "VOIDED")
        return json_response(render_invoice(ledger, invoice, lines=True))


@bp.post("/<tenant_id>/contacts")
def add_contact(tenant_id: str) -> Response:
    body, store = _body(), current_store()
    with store.lock:
        ledger = _ledger(tenant_id)
        contact = mutations.create_contact(
            store, ledger, body.get("name", ""), str(body.get("email", "")), body.get("currency")
        )
        return json_response(render_contact(ledger, contact), 201)


@bp.post("/<tenant_id>/contacts/<contact_id>")
def change_contact(tenant_id: str, contact_id: str) -> Response:
    body, store = _body(), current_store()
    with store.lock:
        ledger = _ledger(tenant_id)
        contact = mutations.update_contact(store, ledger, contact_id.lower(), body)
        return json_response(render_contact(ledger, contact))


@bp.get("/<tenant_id>/emails")
def emails(tenant_id: str) -> Response:
    tenant = _ledger(tenant_id).org.tenant_id
    return json_response({"emails": [e for e in current_store().emails if e["tenantId"] == tenant]})


@bp.post("/expire-tokens")
def expire_tokens() -> Response:
    return json_response({"expired": current().auth.expire_access_tokens()})


@bp.get("/clock")
def clock() -> Response:
    return json_response({"now": event_string(current().clock.now())})


@bp.post("/clock/advance")
def advance_clock() -> Response:
    seconds = _body().get("seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        raise BadInput("seconds must be a number")
    return json_response({"now": event_string(current().clock.advance(seconds))})


@bp.post("/intent-to-receive")
def intent_to_receive() -> Response:
    url = _body().get("url") or current().config.xero_webhook_url
    if not url:
        raise BadInput('xero_webhook_url is not configured (or pass {"url": ...})')
    return json_response(current().webhooks.intent_to_receive(url))


@bp.get("/requests")
def request_log() -> Response:
    return json_response({"requests": list(current().requests)})


@bp.delete("/requests")
def clear_request_log() -> Response:
    current().requests.clear()
    return json_response({"requests": []})


@bp.get("/events")
def events() -> Response:
    return json_response({"events": list(current().webhooks.recent)})


@bp.get("/limits/usage")
def limits_usage() -> Response:
    """Per tenant: the most calls in one minute window, the most in flight, refusals."""
    limiter = current().limiter
    return json_response({"limits": vars(limiter.limits), "tenants": limiter.usage()})


@bp.delete("/limits/usage")
def clear_limits_usage() -> Response:
    current().limiter.reset_usage()
    return json_response({"tenants": {}})


@bp.get("/limits")
def limits() -> Response:
    return json_response(vars(current().limiter.limits))


@bp.post("/limits")
def set_limits() -> Response:
    try:
        updated = current().limiter.set_limits(**_body())
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    return json_response(vars(updated))


@bp.get("/connections")
def connections() -> Response:
    auth = current().auth
    rows = [
        {
            "id": c.id,
            "tenantId": c.tenant_id,
            "tenantName": c.tenant_name,
            "authEventId": c.auth_event_id,
            "grantRevoked": auth.grants[c.grant_id].revoked,
        }
        for c in list(auth.connections.values())
    ]
    return json_response({"connections": rows})
