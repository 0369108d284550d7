"""The provider side of the outbox: every write the sandbox's APIs receive, and what it did.

Each provider's API records its writes (any call but a read) after answering them: method, path,
organization, idempotency key (QuickBooks `requestid`, Xero `Idempotency-Key`), the body, the
status, whether it was a replay of an idempotency key already answered (then nothing is applied
a second time), and `applied`, one plain line per change made to the ledger. Faults and refusals
are recorded too, with the answer's text. Exposed as `GET /_sandbox/writes` and a page.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Response
from flask import current_app
from flask import g
from flask import has_request_context
from flask import request

EXTENSION = "sandbox_writes"
SIZE = 5000
TEXT_LIMIT = 2000


class WriteLog:
    """The last `size` writes, oldest first, safe to use from every request thread."""

    def __init__(self, size: int = SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._seq = itertools.count(1)

    def record(self, **entry: Any) -> dict[str, Any]:
        with self._lock:
            stored = {"seq": next(self._seq), **entry}
            self._entries.append(stored)
            return stored

    def entries(
        self, provider: str | None = None, tenant: str | None = None, since: int = 0
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._entries)
        return [
            dict(e)
            for e in found
            if e["seq"] > since
            and (provider is None or e["provider"] == provider)
            and (tenant is None or e["tenant"] == tenant.lower())
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def applied(*lines: str) -> None:
    """Say what the write being handled changed in the ledger (one line per change)."""
    if has_request_context():
        g.setdefault("sandbox_applied", []).extend(lines)


def replayed() -> None:
    """The write being handled repeats an idempotency key: answered from memory, not applied."""
    g.sandbox_replay = True


def record_write(provider: str, tenant: str, key: str | None, response: Response) -> None:
    """Log the write this request made (call from the provider API's after_request)."""
    log: WriteLog | None = current_app.extensions.get(EXTENSION)
    if log is None:
        return
    failed = response.status_code >= 400
    log.record(
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        provider=provider,
        tenant=tenant.lower(),
        method=request.method,
        path=request.path,
        query=request.args.to_dict(),
        idempotency_key=key,
        body=_body(),
        status=response.status_code,
        replay=bool(g.get("sandbox_replay")),
        applied=[] if failed else list(g.get("sandbox_applied", [])),
        answer=_answer(response) if failed else None,
    )


def _body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:TEXT_LIMIT]


def _answer(response: Response) -> str:
    if response.direct_passthrough:
        return ""
    return response.get_data(as_text=True)[:TEXT_LIMIT]
