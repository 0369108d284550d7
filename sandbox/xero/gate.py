"""What every `/xero` request passes through: faults, bearer token, tenant header, scopes, rate
limits, `Idempotency-Key` replay, the request log the control API exposes, and the write log
(every API call but a GET, with what it applied)."""

from __future__ import annotations

import time
from typing import Any

from flask import Response
from flask import g
from flask import request

from sandbox.faults import Armed
from sandbox.faults import Target
from sandbox.writes import record_write
from sandbox.writes import replayed
from sandbox.xero import dates
from sandbox.xero.grants import Grant
from sandbox.xero.limits import Decision
from sandbox.xero.responses import forbidden
from sandbox.xero.responses import problem
from sandbox.xero.responses import unauthorized
from sandbox.xero.responses import validation_error
from sandbox.xero.state import current
from sandbox.xero.state import current_store
from sandbox.xero.store import Invalid

API_PREFIX = "/xero/api.xro/2.0/"
LOGGED_HEADERS = (
    "If-Modified-Since",
    "Xero-Tenant-Id",
    "Idempotency-Key",
    "Accept",
    "Content-Type",
    "User-Agent",
)
SCOPES = {
    "Invoices": "accounting.invoices",
    "CreditNotes": "accounting.invoices",
    "Payments": "accounting.payments",
    "Overpayments": "accounting.payments",
    "Prepayments": "accounting.payments",
    "Contacts": "accounting.contacts",
    "ContactGroups": "accounting.contacts",
    "Organisation": "accounting.settings",
    "Organisations": "accounting.settings",
    "Currencies": "accounting.settings",
}


def take_fault(consent_page: bool = False) -> Response | None:
    """Applies an armed fault; "slow" is served by `finish` so the call stays in flight."""
    if consent_page:
        return None
    tenant = request.headers.get("Xero-Tenant-Id", "").strip()
    target = Target(tenant, request.method, request.path, request.method != "GET")
    fault = current().faults.take("xero", target)
    if fault is None:
        return None
    if fault.kind == "slow":
        g.xero_slow = fault.seconds
        return None
    return fault_response(fault)


def fault_response(fault: Armed) -> Response:
    """An armed fault as Xero answers that failure."""
    if fault.kind == "rate_limit":
        wait = 1 if fault.retry_after is None else fault.retry_after
        headers = {"Retry-After": str(wait), "X-Rate-Limit-Problem": "minute"}
        return problem(429, "Too Many Requests", "Rate limit exceeded", headers)
    if fault.kind == "reject":
        return validation_error(Invalid(fault.message, _element()))
    return problem(503, "Service Unavailable", "The Xero API is temporarily unavailable")


def _element() -> dict[str, Any]:
    """What a ValidationException echoes back: the first object of the request's body."""
    body = request.get_json(silent=True, force=True)
    if isinstance(body, dict):
        lists = [value for value in body.values() if isinstance(value, list) and value]
        first = lists[0][0] if lists else body
        return dict(first) if isinstance(first, dict) else {}
    return {}


def bearer() -> Grant | Response:
    """The grant the request's bearer token stands for, or the 401 to answer with."""
    sandbox = current()
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or sandbox.faults.revoked("xero"):
        return unauthorized("AuthenticationUnsuccessful")
    grant, expired_at = sandbox.auth.bearer(token.strip())
    if expired_at is not None:
        return unauthorized(f"TokenExpired: token expired at {dates.expired_string(expired_at)}")
    if grant is None:
        return unauthorized("AuthenticationUnsuccessful")
    return grant


def api_before() -> Response | None:
    fault = take_fault()
    if fault is not None:
        return fault
    grant = bearer()
    if isinstance(grant, Response):
        return grant
    tenant_id = request.headers.get("Xero-Tenant-Id", "").strip()
    ledger = current_store().ledger(tenant_id)
    if ledger is None or not current().auth.connected(grant, tenant_id):
        return forbidden()
    if current().faults.revoked("xero", tenant_id):
        return forbidden()  # the organisation's connection was removed; the token lives on
    decision = current().limiter.acquire(tenant_id)
    g.xero_limits = decision
    if decision.problem:
        return too_many(decision)
    g.xero_in_flight, g.xero_ledger, g.xero_grant = tenant_id, ledger, grant
    if not _scope_ok(grant):
        return unauthorized("AuthorizationUnsuccessful")
    return _replay()


def too_many(decision: Decision) -> Response:
    headers = {
        "Retry-After": str(decision.retry_after),
        "X-Rate-Limit-Problem": decision.problem or "minute",
        **decision.headers,
    }
    return problem(429, "Too Many Requests", "Rate limit exceeded", headers)


def _scope_ok(grant: Grant) -> bool:
    resource = request.path.removeprefix(API_PREFIX).split("/")[0].lower()
    family = {name.lower(): scope for name, scope in SCOPES.items()}.get(resource)
    if family is None:
        return True
    allowed = {family} if request.method != "GET" else {family, f"{family}.read"}
    return bool(allowed.intersection(grant.scopes))


def _idempotency_key() -> tuple[str, str] | None:
    key = request.headers.get("Idempotency-Key")
    if request.method not in ("POST", "PUT") or not key:
        return None
    return g.xero_in_flight, key


def _replay() -> Response | None:
    key = _idempotency_key()
    if key is None:
        return None
    if len(key[1]) > 128:
        return problem(400, "Bad Request", "Idempotency-Key must be at most 128 characters")
    stored = current().idempotent.get(key)
    if stored is None:
        return None
    g.xero_replayed = True
    replayed()
    status, body, headers = stored
    return Response(body, status=status, headers=headers)


def api_after(response: Response) -> Response:
    decision: Decision | None = g.get("xero_limits")
    if decision is not None:
        response.headers.update(decision.headers)
    key = _idempotency_key() if g.get("xero_in_flight") else None
    if key and not g.get("xero_replayed") and response.status_code < 500 and len(key[1]) <= 128:
        headers = {"Content-Type": response.content_type or "application/json"}
        current().idempotent[key] = (response.status_code, response.get_data(), headers)
    if request.method != "GET":
        tenant = request.headers.get("Xero-Tenant-Id", "").strip()
        record_write("xero", tenant, request.headers.get("Idempotency-Key"), response)
    return finish(response)


def api_teardown(_exc: BaseException | None) -> None:
    tenant_id = g.pop("xero_in_flight", None)
    if tenant_id:
        current().limiter.release(tenant_id)


def finish(response: Response) -> Response:
    """Sleeps for a "slow" fault, then logs the request."""
    if g.get("xero_slow"):
        time.sleep(g.pop("xero_slow"))
    current().requests.append(_log_entry(response))
    return response


def _log_entry(response: Response) -> dict[str, Any]:
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    headers = {name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers}
    if scheme:
        headers["Authorization"] = scheme
    query: dict[str, Any] = {}
    for name, values in request.args.lists():
        query[name] = values[0] if len(values) == 1 else values
    return {
        "at": dates.event_string(current().clock.now()),
        "method": request.method,
        "path": request.path,
        "query": query,
        "headers": headers,
        "status": response.status_code,
    }


def json_body() -> Any:
    """The request's JSON, or None when it is missing or unreadable."""
    return request.get_json(silent=True, force=True)
