"""Read-only views and knobs of the QuickBooks control API: companies, summary, sent emails,
grants, the request log, the sandbox clock and the throttle limits."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from flask import Response
from flask import jsonify
from flask import request

from sandbox.quickbooks import ops
from sandbox.quickbooks.control_input import body_json
from sandbox.quickbooks.control_input import integer
from sandbox.quickbooks.state import current
from sandbox.quickbooks.store import Company


def summary(co: Company) -> dict[str, Any]:
    open_balance: dict[str, Decimal] = defaultdict(Decimal)
    open_credit: dict[str, Decimal] = defaultdict(Decimal)
    unapplied: dict[str, Decimal] = defaultdict(Decimal)
    home_open = Decimal("0.00")
    invoices = co.entities["Invoice"].values()
    open_count = voided = 0
    for invoice in invoices:
        voided += ops.is_voided(invoice)
        if invoice["Balance"] > 0:
            open_count += 1
            open_balance[invoice["CurrencyRef"]["value"]] += invoice["Balance"]
            home_open += invoice.get("HomeBalance", invoice["Balance"])
    for memo in co.entities["CreditMemo"].values():
        if memo["Balance"] > 0:
            open_credit[memo["CurrencyRef"]["value"]] += memo["Balance"]
    for payment in co.entities["Payment"].values():
        if payment["UnappliedAmt"] > 0:
            unapplied[payment["CurrencyRef"]["value"]] += payment["UnappliedAmt"]
    customers = co.entities["Customer"].values()
    active = sum(1 for c in customers if c["Active"])

    def strings(values: dict[str, Decimal]) -> dict[str, str]:
        return {code: str(total) for code, total in sorted(values.items())}

    return {
        "realm_id": co.realm_id,
        "name": co.name,
        "home_currency": co.currency,
        "customers": {
            "total": len(customers),
            "active": active,
            "inactive": len(customers) - active,
        },
        "invoices": len(invoices),
        "open_invoices": open_count,
        "voided_invoices": voided,
        "payments": len(co.entities["Payment"]),
        "credit_memos": len(co.entities["CreditMemo"]),
        "deleted": {kind: len(rows) for kind, rows in co.deleted.items() if rows},
        "open_balance": strings(open_balance),
        "open_balance_home": str(home_open),
        "open_credit": strings(open_credit),
        "unapplied_payments": strings(unapplied),
    }


def companies() -> Response:
    return jsonify(
        companies=[
            {
                "realm_id": c.realm_id,
                "name": c.name,
                "currency": c.currency,
                "timezone": str(c.tz),
                "multicurrency": c.multicurrency,
            }
            for c in current().store.companies.values()
        ]
    )


def company_summary(realm_id: str) -> Response:
    with current().store.lock:
        return jsonify(summary(current().store.company(realm_id)))


def open_invoices(realm_id: str) -> Response:
    """The oldest open invoices, so a person (or the demo) can pick one to pay."""
    limit = integer(request.args.get("limit", 20), "limit")
    with current().store.lock:
        co = current().store.company(realm_id)
        rows = [
            {
                "id": i["Id"],
                "number": i.get("DocNumber"),
                "customer": i["CustomerRef"].get("name") or i["CustomerRef"]["value"],
                "currency": i["CurrencyRef"]["value"],
                "balance": str(i["Balance"]),
                "due_date": i.get("DueDate"),
            }
            for i in co.entities["Invoice"].values()
            if i["Balance"] > 0 and not ops.is_voided(i)
        ]
    rows.sort(key=lambda row: (row["due_date"] or "", int(row["id"])))
    return jsonify(invoices=rows[:limit])


def emails(realm_id: str) -> Response:
    with current().store.lock:
        return jsonify(emails=list(current().store.company(realm_id).emails))


def expire_tokens() -> Response:
    return jsonify(expired=current().grants.expire_all())


def grants() -> Response:
    return jsonify(grants=current().grants.describe())


def requests_log() -> Response:
    limit = integer(request.args.get("limit", "100"), "limit")
    entries = current().log.latest(max(1, min(limit, 2000)), request.args.get("path", ""))
    return jsonify(requests=entries)


def clear_requests() -> Response:
    current().log.clear()
    return jsonify(requests=[])


def clock() -> Response:
    return jsonify(now=current().clock.now().isoformat(), today=current().clock.today.isoformat())


def advance() -> Response:
    seconds = integer(body_json().get("seconds", 0), "seconds")
    return jsonify(now=current().clock.advance(seconds).isoformat())


def limits() -> Response:
    body = body_json()
    limiter = current().limiter
    limiter.per_minute = integer(body.get("per_minute", limiter.per_minute), "per_minute")
    limiter.in_flight = integer(body.get("in_flight", limiter.in_flight), "in_flight")
    limiter.reset()
    return jsonify(per_minute=limiter.per_minute, in_flight=limiter.in_flight)
