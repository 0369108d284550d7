"""HTTP access to one QuickBooks Online company (realm).

Every call carries `minorversion=75` and `Accept: application/json`, passes through the shared
limiter (500 calls a minute and 10 at once per realm, Intuit's published limits), and is retried
with bounded exponential backoff and jitter on throttling, 5xx answers and network failures. A 401
refreshes the access token once through `Credentials.refreshed`; a second 401 means the grant is
dead. Money in answers is parsed as `Decimal`. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from providers import http
from providers.base import Credentials
from providers.base import Limit
from providers.base import Limiter
from providers.base import NoLimiter
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Unavailable
from providers.http import RetryPolicy
from providers.http import retry_after
from providers.jsonbody import decode_json
from providers.quickbooks.faults import error_for
from providers.quickbooks.faults import is_throttle
from providers.quickbooks.faults import json_fault
from providers.quickbooks.faults import parse_fault

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
PAGE_SIZE = 1000
PER_MINUTE = 500
IN_FLIGHT = 10
DEFAULT_RETRY_AFTER = 60.0
MAX_REQUEST_ID = 50


def request_id(key: str, part: str = "") -> str:
    """A `requestid` for `key` (plus `part` for multi-call commands), at most 50 characters."""
    value = f"{key}:{part}" if part else key
    if len(value) <= MAX_REQUEST_ID:
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[: MAX_REQUEST_ID - 2]


def qbo_timestamp(instant: datetime) -> str:
    """An instant as QuickBooks queries and CDC take it: seconds, explicit UTC offset."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat()


class QuickBooksApi:
    """Calls against `{base_url}/v3/company/{realm_id}/...`."""

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        credentials: Credentials,
        limiter: Limiter | None = None,
        session: requests.Session | None = None,
        *,
        timeout: float = 30.0,
        tries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.realm_id = realm_id
        self.credentials = credentials
        self.limiter = limiter or NoLimiter()
        self.session = session or requests.Session()
        # A Retry-After longer than the backoff cap is handed back rather than waited.
        self.retry = RetryPolicy(
            attempts=max(1, tries) - 1,
            backoff=backoff,
            max_backoff=max_backoff,
            max_wait=max_backoff,
            timeout=timeout,
            sleep=sleep,
        )
        self.limit = Limit(key=f"qbo:{realm_id}", per_minute=PER_MINUTE, in_flight=IN_FLIGHT)

    # ------------------------------------------------------------ typed calls

    def query(self, statement: str, include: str | None = None) -> dict[str, Any]:
        """The `QueryResponse` of a query statement ({} for an empty page).

        `include` asks for extras QuickBooks leaves out by default ("invoiceLink").
        """
        response = decode_answer(self.query_call(statement, include)).get("QueryResponse")
        return response if isinstance(response, dict) else {}

    def query_call(self, statement: str, include: str | None = None) -> requests.Response:
        """The answer to a query statement, undecoded (for a typed decoder, see `typed`)."""
        params = {"query": statement, **({"include": include} if include else {})}
        return self.call("GET", "query", params=params)

    def read(self, path: str, external_id: str, **params: str) -> dict[str, Any]:
        return self.request("GET", f"{path}/{quote(external_id, safe='')}", params=params)

    def cdc(
        self, entities: list[str], since: datetime, include: str | None = None
    ) -> dict[str, Any]:
        params = {"entities": ",".join(entities), "changedSince": qbo_timestamp(since)}
        if include:
            params["include"] = include
        return self.request("GET", "cdc", params=params)

    def save(self, path: str, body: dict[str, Any], requestid: str) -> dict[str, Any]:
        return self.request("POST", path, json_body=body, params={"requestid": requestid})

    def send_invoice(self, invoice_id: str, to: str | None, requestid: str) -> dict[str, Any]:
        params = {"requestid": requestid}
        if to:
            params["sendTo"] = to
        headers = {"Content-Type": "application/octet-stream"}
        path = f"invoice/{quote(invoice_id, safe='')}/send"
        return self.request("POST", path, params=params, headers=headers)

    # ------------------------------------------------------------ transport

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One API call with retries; the decoded JSON answer, or a ProviderError."""
        return decode_answer(
            self.call(method, path, params=params, json_body=json_body, headers=headers)
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """One API call with retries; the answer of 200 as it came (see `decode_answer`), or a
        ProviderError."""
        url = f"{self.base_url}/v3/company/{self.realm_id}/{path}"
        params = {**(params or {}), "minorversion": MINOR_VERSION}
        body = None if json_body is None else encode_body(json_body)
        return http.call(
            lambda token: self._send(method, url, params, body, headers, token),
            self.credentials,
            self.retry,
            self._error,
            lambda exc: Unavailable(f"QuickBooks did not answer ({exc.__class__.__name__})"),
            f"QuickBooks {method} {path}",
        )

    def _send(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        body: str | None,
        extra_headers: dict[str, str] | None,
        token: str,
    ) -> requests.Response:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(extra_headers or {})
        with ExitStack() as stack:
            _enter_slot(stack, self.limiter, self.limit)
            return self.session.request(
                method, url, params=params, data=body, headers=headers, timeout=self.retry.timeout
            )

    def _error(self, response: requests.Response) -> ProviderError:
        """The error an answer of 400 or more stands for; a throttle also tells every worker
        sharing the limiter to hold off, not only this one."""
        status = response.status_code
        fault = parse_fault(response.content)
        if status == 429 or is_throttle(fault):
            wait = retry_after(response)
            self.limiter.observe(self.limit, 0, wait if wait is not None else self.retry.backoff)
            return RateLimited(
                "QuickBooks throttled the request (over its per-company limit)",
                retry_after=wait or DEFAULT_RETRY_AFTER,
                status=status,
                code=(fault.code if fault else "") or None,
            )
        if status == 401:
            return _reauthorize(response)
        if status >= 500:
            detail = f": {fault.describe()}" if fault else ""
            return Unavailable(f"QuickBooks answered HTTP {status}{detail}", status=status)
        return error_for(status, fault)


def _enter_slot(stack: ExitStack, limiter: Limiter, limit: Limit) -> None:
    """Take a limiter slot; a limiter that gives up waiting becomes RateLimited.

    Limiters outside `providers` cannot raise our errors, so any exception carrying a
    `retry_after` attribute is taken as "waited too long".
    """
    try:
        stack.enter_context(limiter.slot((limit,)))
    except ProviderError:
        raise
    except Exception as exc:
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is None:
            raise
        message = f"Waited too long for a QuickBooks call slot ({limit.key})"
        raise RateLimited(message, retry_after=float(retry_after)) from exc


def decode_answer(response: requests.Response) -> dict[str, Any]:
    """The JSON object of an answer; a Fault in it (QuickBooks sends some with 200) raised."""
    try:
        data = decode_json(response.content)
    except ValueError as exc:
        raise Unavailable(
            f"QuickBooks answered HTTP {response.status_code} with a body that is not JSON",
            status=response.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise Unavailable("QuickBooks answered with an unexpected JSON shape")
    fault = json_fault(data)
    if fault is not None and fault.errors:
        raise error_for(400, fault)
    return data


def _reauthorize(response: requests.Response) -> Reauthorize:
    fault = parse_fault(response.content)
    detail = f": {fault.describe()}" if fault else ""
    return Reauthorize(
        f"QuickBooks rejected the access token even after a refresh{detail}",
        status=401,
        code=(fault.code or None) if fault else None,
    )


def encode_body(body: dict[str, Any]) -> str:
    """JSON for a request body; `Decimal` amounts go out as exact JSON numbers, never floats."""
    marker = f"decimal-{secrets.token_hex(8)}:"

    def mark(value: object) -> str:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{marker}{value:f}"
        raise TypeError(f"cannot send {type(value).__name__} to QuickBooks")

    text = json.dumps(body, default=mark)
    token = re.compile(rf'"{marker}(-?[0-9]+(?:\.[0-9]+)?)"')
    return token.sub(lambda found: found.group(1), text)
