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

from sandbox.faults import Faults
from sandbox.quickbooks.clock import Clock
from sandbox.quickbooks.grants import Grants
from sandbox.quickbooks.limits import IdempotencyCache
from sandbox.quickbooks.limits import RateLimiter
from sandbox.quickbooks.limits import RequestLog
from sandbox.quickbooks.store import Event
from sandbox.quickbooks.store import Store
from sandbox.quickbooks.webhooks import Encoder
from sandbox.quickbooks.wire import envelope_time
from sandbox.quickbooks.wire import json_response
from sandbox.quickbooks.wire import server_error_response
from sandbox.quickbooks.wire import throttle_response
from sandbox.quickbooks.wire import xml_response
from sandbox.webhooks import WebhookSender

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
    log: RequestLog = field(default_factory=RequestLog)
    idempotency: IdempotencyCache = field(default_factory=IdempotencyCache)

    def publish(self, events: list[Event]) -> None:
        for event in events:
            self.sender.send(self.config.intuit_webhook_url, self.encoder, event)

    def home_time(self) -> str:
        """Envelope times use the first company's zone when no realm is at hand."""
        tz = next(iter(self.store.companies.values())).tz
        return envelope_time(self.clock.precise_now(), tz)


def current() -> QboState:
    """The QuickBooks sandbox of the app handling this request."""
    return current_app.extensions[EXTENSION]


def begin(state: QboState) -> Response | None:
    """Log the request and apply an armed fault: an early response, or None to go on."""
    g.qbo_started = time.monotonic()
    g.qbo_log = state.log.start(
        request.method, request.path, request.args.to_dict(), request.headers
    )
    fault = state.faults.take(PROVIDER)
    g.qbo_slow = 0.0
    if fault is None:
        return None
    if fault.kind == "rate_limit":
        return throttle_response(state.home_time())
    if fault.kind == "server_error":
        return server_error_response(state.home_time())
    g.qbo_slow = fault.seconds
    return None


def slow_down() -> None:
    if getattr(g, "qbo_slow", 0.0):
        time.sleep(g.qbo_slow)


def finish(state: QboState, response: Response) -> Response:
    entry = getattr(g, "qbo_log", None)
    if entry is not None:
        state.log.finish(entry, response.status_code, g.qbo_started)
    return response


def render(payload: dict[str, Any], status: int = 200) -> Response:
    """JSON for `Accept: application/json`, otherwise QuickBooks' default, XML."""
    if "json" in request.headers.get("Accept", ""):
        return json_response(payload, status)
    return xml_response(payload, status)


def stamped(realm_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    state = current()
    payload["time"] = envelope_time(state.clock.precise_now(), state.store.company(realm_id).tz)
    return payload
