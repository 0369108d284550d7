"""The Xero sandbox's state, kept in `app.extensions["sandbox_xero"]`.

The ledgers are built on first use, so `app.config["SANDBOX_TODAY"]` (a date or `YYYY-MM-DD`)
can still be set after `create_app()`; it anchors the sandbox clock's calendar day.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import date
from datetime import datetime
from typing import Any

from flask import current_app

from sandbox import oidc
from sandbox.faults import Faults
from sandbox.oidc import xero as xero_oidc
from sandbox.webhooks import WebhookSender
from sandbox.xero.clock import Clock
from sandbox.xero.grants import AuthServer
from sandbox.xero.grants import Grant
from sandbox.xero.limits import RateLimiter
from sandbox.xero.seed import build_ledgers
from sandbox.xero.store import Store
from sandbox.xero.webhooks import XeroWebhooks

EXTENSION = "sandbox_xero"


class XeroSandbox:
    def __init__(self, config: Any, faults: Faults, sender: WebhookSender) -> None:
        self.config, self.faults = config, faults
        self.clock = Clock()
        self.auth = AuthServer(
            config.xero_client_id,
            config.xero_client_secret,
            self.clock,
            sign_access=xero_oidc.access_token,
            id_token=_id_token,
        )
        self.limiter = RateLimiter(self.clock)
        self.webhooks = XeroWebhooks(
            config.xero_webhook_url, config.xero_webhook_key, sender, self.clock
        )
        self.requests: deque[dict[str, Any]] = deque(maxlen=5000)
        self.idempotent: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self._store: Store | None = None
        self._lock = threading.Lock()

    def store(self, today: date | str | None = None) -> Store:
        with self._lock:
            if self._store is None:
                self._store = self._build(today)
            return self._store

    def _build(self, today: date | str | None) -> Store:
        if isinstance(today, str):
            today = date.fromisoformat(today)
        if isinstance(today, datetime):
            today = today.date()
        if today is not None:
            self.clock.anchor_to(today)
        ledgers = build_ledgers(
            self.config.seed,
            self.config.size,
            self.clock.today(),
            self.clock.now(),
            self.config.xero_fleet,
        )
        return Store(ledgers, self.clock, self.webhooks.emit)


def current() -> XeroSandbox:
    return current_app.extensions[EXTENSION]


def current_store() -> Store:
    return current().store(current_app.config.get("SANDBOX_TODAY"))


def _id_token(grant: Grant, access_token: str, nonce: str) -> str:
    """The id_token of the person who consented to `grant` (sandbox.oidc.xero)."""
    user = oidc.current().users.by_xero_userid(grant.user_id)
    if user is None:
        raise LookupError(f"no sandbox user {grant.user_id}")
    auth_time = min(int(grant.created.timestamp()), int(time.time()))
    session_id = grant.id.replace("-", "")
    return xero_oidc.id_token(user, grant.client_id, session_id, auth_time, access_token, nonce)
