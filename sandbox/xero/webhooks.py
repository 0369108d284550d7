"""Xero webhooks: signed event batches and the intent-to-receive handshake.

Body: `{"events": [...], "firstEventSequence": n, "lastEventSequence": m, "entropy": "..."}`,
header `x-xero-signature` = base64(HMAC-SHA256(webhook key, raw body)). Categories are INVOICE,
CONTACT and CREDITNOTE; event types CREATE and UPDATE only, so payments, voids and deletes all
arrive as INVOICE UPDATE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import string
import threading
import time
from collections import deque
from typing import Any

import requests

from sandbox.webhooks import WebhookSender
from sandbox.xero import dates
from sandbox.xero.clock import Clock

RESOURCE_PATHS = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}


def sign(key: str, body: bytes) -> str:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def entropy() -> str:
    return "".join(random.choices(string.ascii_uppercase, k=20))


class XeroWebhooks:
    def __init__(self, url: str, key: str, sender: WebhookSender, clock: Clock) -> None:
        self.url, self.key, self.sender, self.clock = url, key, sender, clock
        self._lock = threading.Lock()
        self._sequence = 0
        self.recent: deque[dict[str, Any]] = deque(maxlen=10_000)

    def emit(
        self,
        tenant_id: str,
        category: str,
        event_type: str,
        resource_id: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        event: dict[str, Any] = {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{RESOURCE_PATHS[category]}/{resource_id}",
            "resourceId": resource_id,
            "eventDateUtc": dates.event_string(self.clock.now()),
            "eventType": event_type,
            "eventCategory": category,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        }
        if data:
            event["data"] = data
        self.recent.append(event)
        self.sender.send(self.url, self.encode, event)

    def encode(self, events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
        with self._lock:
            first = self._sequence + 1
            self._sequence += len(events)
            last = self._sequence
        body = json.dumps(
            {
                "events": events,
                "firstEventSequence": first,
                "lastEventSequence": last,
                "entropy": entropy(),
            }
        ).encode()
        return body, self.headers(body)

    def headers(self, body: bytes, key: str | None = None) -> dict[str, str]:
        return {"Content-Type": "application/json", "x-xero-signature": sign(key or self.key, body)}

    def intent_to_receive(self, url: str) -> dict[str, Any]:
        """Xero's validation: one correctly signed empty batch (expects 200, empty body, no
        cookie) and one wrongly signed (expects 401), each answered within 5 seconds."""
        details = [self._probe(url, correct=True), self._probe(url, correct=False)]
        return {"ok": all(d["ok"] for d in details), "url": url, "details": details}

    def _probe(self, url: str, correct: bool) -> dict[str, Any]:
        body = json.dumps(
            {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": entropy()},
            separators=(",", ":"),
        ).encode()
        headers = self.headers(body, None if correct else self.key + "-wrong")
        expected = 200 if correct else 401
        report: dict[str, Any] = {
            "signature": "correct" if correct else "incorrect",
            "expected": expected,
        }
        started = time.monotonic()
        try:
            response = requests.post(url, data=body, headers=headers, timeout=5)
        except requests.RequestException as exc:
            return {**report, "status": None, "ok": False, "problems": [f"no answer: {exc}"]}
        report["elapsedMs"] = round((time.monotonic() - started) * 1000)
        problems = []
        if response.status_code != expected:
            problems.append(f"expected HTTP {expected}, got {response.status_code}")
        if correct and response.content:
            problems.append("the body must be empty")
        if "Set-Cookie" in response.headers:
            problems.append("the response must not set cookies")
        return {**report, "status": response.status_code, "ok": not problems, "problems": problems}
