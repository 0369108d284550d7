"""HTTP to Xero: auth and tenant headers, rate limits, retries, and errors as ProviderErrors.

Every Accounting API call carries `xero-tenant-id` and `Accept: application/json` (Xero answers
XML otherwise) and runs inside the shared limiter's slot for the tenant (60/min, 5000/day, 5 in
flight) and the app (10,000/min). Xero reports what is left in X-MinLimit-Remaining,
X-DayLimit-Remaining and X-AppMinLimit-Remaining; a 429 names the exhausted limit in
X-Rate-Limit-Problem and says when to come back in Retry-After.
See https://developer.xero.com/documentation/guides/oauth2/limits/

Money is parsed as Decimal (`parse_float=Decimal`) and written as JSON numbers from Decimals.
Tokens never reach a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests

from providers import http
from providers.base import Conflict
from providers.base import Credentials
from providers.base import Limit
from providers.base import Limiter
from providers.base import NotFound
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Rejected
from providers.base import Unavailable
from providers.http import RetryPolicy
from providers.http import retry_after
from providers.jsonbody import decode_json

log = logging.getLogger(__name__)

APP_LIMIT = Limit(key="xero:app", per_minute=10000)
MAX_IDEMPOTENCY_KEY = 128


def tenant_limit(tenant_id: str) -> Limit:
    return Limit(key=f"xero:{tenant_id}", per_minute=60, per_day=5000, in_flight=5)


class XeroApi:
    """One tenant's view of Xero (tenant_id None: tenantless identity calls)."""

    def __init__(
        self,
        *,
        base_url: str,
        tenant_id: str | None,
        credentials: Credentials,
        limiter: Limiter,
        http: requests.Session | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tenant_id = tenant_id
        self._credentials = credentials
        self._limiter = limiter
        self._http = http or requests.Session()
        self._retry = retry or RetryPolicy()
        self._limits = _RateLimits(tenant_id)

    def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        return self.request("GET", path, params=params, **kw)

    def put(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self.request("PUT", path, body=body, idempotency_key=idempotency_key)

    def post(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        return self.request("POST", path, body=body, idempotency_key=idempotency_key)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty one), or a ProviderError."""
        return decode(
            self.call(
                method,
                path,
                params=params,
                body=body,
                headers=headers,
                idempotency_key=idempotency_key,
            )
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> requests.Response:
        """The answer as it came (for a typed decoder; see `decode`), or a ProviderError."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"
        data = None if body is None else dumps(body)
        extra = self._headers(headers, idempotency_key, data is not None)
        return http.call(
            lambda token: self._send(method, url, params, data, extra, token),
            self._credentials,
            self._retry,
            self._error,
            lambda exc: Unavailable(_unreachable(exc)),
            f"Xero {method} {path}",
        )

    def _headers(
        self, headers: Mapping[str, str] | None, idempotency_key: str | None, has_body: bool
    ) -> dict[str, str]:
        extra = {"Accept": "application/json", "User-Agent": "Dunwell"}
        if self.tenant_id:
            extra["xero-tenant-id"] = self.tenant_id
        if has_body:
            extra["Content-Type"] = "application/json"
        if idempotency_key is not None:
            if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
                raise ValueError("Xero's Idempotency-Key must be 1 to 128 characters")
            extra["Idempotency-Key"] = idempotency_key
        extra.update(headers or {})
        return extra

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        data: bytes | None,
        headers: dict[str, str],
        token: str,
    ) -> requests.Response:
        headers = {**headers, "Authorization": f"Bearer {token}"}
        with self._limiter.slot(self._limits.slot):
            response = self._http.request(
                method, url, params=params, data=data, headers=headers, timeout=self._retry.timeout
            )
        log.debug("xero %s %s -> %s", method, url, response.status_code)
        self._limits.observe(self._limiter, response)
        return response

    def cap_waits(self, seconds: float) -> None:
        """No sleep longer than `seconds` before a retry (see RetryPolicy.capped)."""
        self._retry = self._retry.capped(seconds)

    def _error(self, response: requests.Response) -> ProviderError:
        status = response.status_code
        doc = _decode_quietly(response)
        if status == 400:
            return Rejected(
                "Xero rejected the request: " + _problem_text(doc, response),
                status=status,
                code=_field(doc, "Type"),
            )
        if status == 401:
            return Reauthorize(
                "Xero refused Dunwell's access even after a token refresh: reconnect the "
                "organisation.",
                status=status,
            )
        if status == 403:
            who = f"organisation {self.tenant_id}" if self.tenant_id else "this Xero login"
            return Reauthorize(
                f"Xero refused access to {who}: it is no longer connected to Dunwell (or the "
                f"connection lacks a permission). Reconnect it. ({_problem_text(doc, response)})",
                status=status,
            )
        if status == 404:
            return NotFound(f"Xero has no {response.request.path_url}", status=status)
        if status == 409:
            return Conflict("Xero: " + _problem_text(doc, response), status=status)
        if status == 429:
            problem = response.headers.get("X-Rate-Limit-Problem", "rate")
            wait = retry_after(response)
            return RateLimited(
                f"Xero's {problem} limit is used up for now",
                retry_after=60.0 if wait is None else wait,
                status=status,
                code=problem,
            )
        if status >= 500:
            return Unavailable(f"Xero is unavailable (HTTP {status})", status=status)
        return Rejected(
            f"Xero rejected the request (HTTP {status}): " + _problem_text(doc, response),
            status=status,
        )


class _RateLimits:
    """The tenant and app limits a call runs under, and what Xero's headers say is left."""

    def __init__(self, tenant_id: str | None) -> None:
        self.tenant = tenant_limit(tenant_id) if tenant_id else None
        self.slot = (self.tenant, APP_LIMIT) if self.tenant else (APP_LIMIT,)
        key = self.tenant.key if self.tenant else APP_LIMIT.key
        # observe() gets a Limit carrying only the window the header talks about.
        self.minute = Limit(key=key, per_minute=60) if self.tenant else APP_LIMIT
        self.day = Limit(key=key, per_day=5000) if self.tenant else APP_LIMIT
        self.concurrent = Limit(key=key, in_flight=5) if self.tenant else APP_LIMIT
        self.by_header = {"X-MinLimit-Remaining": self.minute, "X-DayLimit-Remaining": self.day}
        self.by_problem = {
            "minute": self.minute,
            "day": self.day,
            "daily": self.day,
            "concurrent": self.concurrent,
            "appminute": APP_LIMIT,
            "app": APP_LIMIT,
        }

    def observe(self, limiter: Limiter, response: requests.Response) -> None:
        seen: dict[Limit, int | None] = {}
        if self.tenant:
            for header, limit in self.by_header.items():
                seen[limit] = _int(response.headers.get(header))
        seen[APP_LIMIT] = _int(response.headers.get("X-AppMinLimit-Remaining"))
        if response.status_code == 429:
            problem = response.headers.get("X-Rate-Limit-Problem", "minute").strip().lower()
            limit = self.by_problem.get(problem, self.minute)
            remaining = seen.pop(limit, None)
            limiter.observe(limit, 0 if remaining is None else remaining, retry_after(response))
        for limit, remaining in seen.items():
            if remaining is not None:
                limiter.observe(limit, remaining, None)


def decode(response: requests.Response) -> Any:
    """The JSON body with Decimal money; None for an empty body."""
    if not response.content.strip():
        return None
    try:
        return decode_json(response.content)
    except ValueError as exc:
        raise Unavailable(
            f"Xero sent a body that is not JSON (HTTP {response.status_code})",
            status=response.status_code,
        ) from exc


def dumps(body: Any) -> bytes:
    """JSON bytes in which Decimals stay exact numbers (the json module would need floats)."""
    return _encode(body).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amounts must be finite")
        return format(value, "f")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    return json.dumps(value)


def validation_messages(doc: Any) -> list[str]:
    """Every ValidationErrors[].Message inside a ValidationException body, in order, once."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for error in node.get("ValidationErrors") or []:
                message = isinstance(error, dict) and str(error.get("Message") or "").strip()
                if message and message not in found:
                    found.append(message)
            for key, child in node.items():
                if key != "ValidationErrors":
                    walk(child)

    walk(doc.get("Elements") if isinstance(doc, dict) else None)
    return found


def _problem_text(doc: Any, response: requests.Response) -> str:
    messages = validation_messages(doc)
    if messages:
        return " ".join(messages)
    for name in ("Detail", "Message", "Title", "error_description", "error"):
        text = _field(doc, name)
        if text:
            return text
    text = response.text.strip()
    return text[:300] if text else f"HTTP {response.status_code}"


def _field(doc: Any, name: str) -> str | None:
    value = doc.get(name) if isinstance(doc, dict) else None
    return str(value) if value else None


def _decode_quietly(response: requests.Response) -> Any:
    try:
        return decode_json(response.content)
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _unreachable(exc: Exception) -> str:
    return f"Xero did not answer ({exc.__class__.__name__})"
