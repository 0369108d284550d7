"""Everything one QuickBooks sandbox instance holds, the gate every /qbo request passes, and how
API answers are rendered."""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import Response
from flask import current_app
from flask import g
from flask import request

from sandbox.faults import Armed
from sandbox.faults import Faults
from sandbox.faults import Target
from sandbox.quickbooks.clock import Clock
from sandbox.quickbooks.grants import Grants
from sandbox.quickbooks.limits import BATCHES_PER_MINUTE
from sandbox.quickbooks.limits import IdempotencyCache
from sandbox.quickbooks.limits import RateLimiter
from sandbox.quickbooks.limits import RequestLog
from sandbox.quickbooks.ops import business_error
from sandbox.quickbooks.store import Event
from sandbox.quickbooks.store import Store
from sandbox.quickbooks.updates import stale_error
from sandbox.quickbooks.webhooks import Encoder
from sandbox.quickbooks.wire import envelope_time
from sandbox.quickbooks.wire import fault_payload
from sandbox.quickbooks.wire import json_response
from sandbox.quickbooks.wire import server_error_response
from sandbox.quickbooks.wire import throttle_response
from sandbox.quickbooks.wire import xml_response
from sandbox.webhooks import WebhookSender
from sandbox.writes import record_write

PROVIDER = "quickbooks"
EXTENSION = "sandbox_quickbooks"


@dataclass
class QboState:
    config: Any
    faults: Faults
    sender: WebhookSender
    clock: Clock
    store: Store
    grants: Grants
    encoder: Encoder
    limiter: RateLimiter = field(default_factory=RateLimiter)
    batches: RateLimiter = field(default_factory=lambda: RateLimiter(BATCHES_PER_MINUTE))
    log: RequestLog = field(default_factory=RequestLog)
    idempotency: IdempotencyCache = field(default_factory=IdempotencyCache)

    def publish(self, events: list[Event]) -> None:
        for event in events:
            self.sender.send(self.config.intuit_webhook_url, self.encoder, event)

    def home_time(self) -> str:
        """Envelope times use the first company's zone when no realm is at hand."""
        tz = next(iter(self.store.companies.values())).tz
        return envelope_time(self.clock.precise_now(), tz)

    def realm_time(self, realm_id: str) -> str:
        """The `time` of an answer for this realm (its own zone), or `home_time`."""
        company = self.store.companies.get(realm_id)
        if company is None:
            return self.home_time()
        return envelope_time(self.clock.precise_now(), company.tz)


def current() -> QboState:
    """The QuickBooks sandbox of the app handling this request."""
    return current_app.extensions[EXTENSION]


def begin(state: QboState) -> Response | None:
    """Log the request and apply an armed fault: an early response, or None to go on."""
    g.qbo_started = time.monotonic()
    g.qbo_log = state.log.start(
        request.method, request.path, request.args.to_dict(), request.headers
    )
    realm_id = (request.view_args or {}).get("realm_id", "")
    fault = state.faults.take(PROVIDER, Target(realm_id, request.method, request.path, is_write()))
    g.qbo_slow = 0.0
    if fault is None:
        return None
    if fault.kind == "slow":
        g.qbo_slow = fault.seconds
        return None
    return fault_response(fault, state.realm_time(realm_id))


def is_write() -> bool:
    """Any API call but a GET, and but POST /query (a long query statement is a read) and
    POST /batch (the sandbox runs only queries in a batch)."""
    return request.method != "GET" and not request.path.endswith(("/query", "/batch"))


def fault_response(fault: Armed, when: str) -> Response:
    """An armed fault as QuickBooks answers that failure."""
    if fault.kind == "rate_limit":
        response = throttle_response(when)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if fault.kind in ("reject", "stale"):
        error = business_error(fault.message) if fault.kind == "reject" else stale_error()
        return render(fault_payload(error.code, error.message, error.detail, when), error.status)
    return server_error_response(when)


def slow_down() -> None:
    if getattr(g, "qbo_slow", 0.0):
        time.sleep(g.qbo_slow)


def finish(state: QboState, response: Response) -> Response:
    entry = getattr(g, "qbo_log", None)
    if entry is not None:
        state.log.finish(entry, response.status_code, g.qbo_started)
    realm_id = (request.view_args or {}).get("realm_id")
    if realm_id is not None and is_write():  # an Accounting API write, not OAuth
        record_write(PROVIDER, realm_id, request.args.get("requestid"), response)
    return response


def render(payload: dict[str, Any], status: int = 200) -> Response:
    """JSON for `Accept: application/json`, otherwise QuickBooks' default, XML."""
    if wants_json():
        return json_response(payload, status)
    return xml_response(payload, status)


def wants_json() -> bool:
    return "json" in request.headers.get("Accept", "")


def stamped(realm_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    state = current()
    payload["time"] = envelope_time(state.clock.precise_now(), state.store.company(realm_id).tz)
    return payload
