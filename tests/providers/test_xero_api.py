"""Xero HTTP behaviour: headers, retries, rate limits, token refresh and error mapping."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from providers.base import AddNote
from providers.base import Entity
from providers.base import Limit
from providers.base import NotFound
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Rejected
from providers.base import Unavailable
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.xero import Xero
from providers.xero.api import dumps

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero"
API = "https://api.xero.com/api.xro/2.0"
TENANT = "70784a63-d24b-46a9-a4db-0e70a274b056"
INVOICE = "0e7c6f3a-1b0a-4c7e-9d0e-000000000006"
TENANT_LIMIT = Limit(key=f"xero:{TENANT}", per_minute=60, per_day=5000, in_flight=5)
APP_LIMIT = Limit(key="xero:app", per_minute=10000)
MINUTE = Limit(key=f"xero:{TENANT}", per_minute=60)
DAY = Limit(key=f"xero:{TENANT}", per_day=5000)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class FakeCredentials:
    def __init__(self) -> None:
        self.token = "token-1"
        self.refreshes: list[str] = []

    def access_token(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        self.refreshes.append(rejected)
        self.token = f"token-{len(self.refreshes) + 1}"
        return self.token


class RecordingLimiter:
    def __init__(self) -> None:
        self.slots: list[tuple[Limit, ...]] = []
        self.observed: list[tuple[Limit, int | None, float | None]] = []

    @contextmanager
    def slot(self, limits: tuple[Limit, ...]) -> Iterator[None]:
        self.slots.append(limits)
        yield

    def observe(self, limit: Limit, remaining: int | None, retry_after: float | None) -> None:
        self.observed.append((limit, remaining, retry_after))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def creds() -> FakeCredentials:
    return FakeCredentials()


@pytest.fixture
def limiter() -> RecordingLimiter:
    return RecordingLimiter()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def xero(creds: FakeCredentials, limiter: RecordingLimiter, sleeps: list[float]) -> Xero:
    settings = ProviderSettings(api_base=API, connections_url="https://api.xero.com/connections")
    return Xero(settings, TENANT, creds, limiter, retry=RetryPolicy(sleep=sleeps.append))


def invoice_ok(rsps: responses.RequestsMock, **kw: Any) -> None:
    body = {"Invoices": [fixture("invoices.json")["Invoices"][5]]}
    rsps.get(f"{API}/Invoices", json=body, **kw)


def test_every_call_carries_tenant_accept_and_bearer(
    xero: Xero, rsps: responses.RequestsMock, limiter: RecordingLimiter
) -> None:
    headers = {
        "xero-tenant-id": TENANT,
        "Accept": "application/json",
        "Authorization": "Bearer token-1",
    }
    invoice_ok(
        rsps,
        match=[matchers.header_matcher(headers), matchers.query_param_matcher({"IDs": INVOICE})],
    )
    record = xero.get(Entity.INVOICE, INVOICE)
    assert record is not None and record.total == Decimal("148062.76")
    assert limiter.slots == [(TENANT_LIMIT, APP_LIMIT)]


def test_remaining_headers_are_observed(
    xero: Xero, rsps: responses.RequestsMock, limiter: RecordingLimiter
) -> None:
    remaining = {
        "X-DayLimit-Remaining": "4990",
        "X-MinLimit-Remaining": "55",
        "X-AppMinLimit-Remaining": "9990",
    }
    invoice_ok(rsps, headers=remaining)
    xero.get(Entity.INVOICE, INVOICE)
    assert sorted(limiter.observed, key=repr) == sorted(
        [(MINUTE, 55, None), (DAY, 4990, None), (APP_LIMIT, 9990, None)], key=repr
    )


def test_429_waits_retry_after_then_succeeds(
    xero: Xero, rsps: responses.RequestsMock, limiter: RecordingLimiter, sleeps: list[float]
) -> None:
    limited = {"Retry-After": "7", "X-Rate-Limit-Problem": "minute", "X-MinLimit-Remaining": "0"}
    rsps.get(f"{API}/Invoices", status=429, headers=limited)
    invoice_ok(rsps)
    assert xero.get(Entity.INVOICE, INVOICE) is not None
    assert sleeps == [7.0]
    assert (MINUTE, 0, 7.0) in limiter.observed
    assert len(rsps.calls) == 2


def test_rate_limited_after_retries_run_out(
    xero: Xero, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    for _ in range(4):
        rsps.get(f"{API}/Invoices", status=429, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as caught:
        xero.get(Entity.INVOICE, INVOICE)
    assert caught.value.retry_after == 3.0
    assert sleeps == [3.0, 3.0, 3.0]


def test_daily_limit_is_not_slept_on(
    xero: Xero, rsps: responses.RequestsMock, limiter: RecordingLimiter, sleeps: list[float]
) -> None:
    headers = {"Retry-After": "66975", "X-Rate-Limit-Problem": "day", "X-DayLimit-Remaining": "0"}
    rsps.get(f"{API}/Invoices", status=429, headers=headers)
    with pytest.raises(RateLimited) as caught:
        xero.get(Entity.INVOICE, INVOICE)
    assert caught.value.retry_after == 66975.0
    assert caught.value.code == "day"
    assert sleeps == []
    assert limiter.observed == [(DAY, 0, 66975.0)]


def test_server_errors_back_off_then_succeed(
    xero: Xero, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    rsps.get(f"{API}/Invoices", status=503)
    rsps.get(f"{API}/Invoices", body=requests.ConnectTimeout("slow"))
    invoice_ok(rsps)
    assert xero.get(Entity.INVOICE, INVOICE) is not None
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2  # with jitter


def test_server_errors_become_unavailable(xero: Xero, rsps: responses.RequestsMock) -> None:
    for _ in range(4):
        rsps.get(f"{API}/Invoices", status=500)
    with pytest.raises(Unavailable):
        xero.get(Entity.INVOICE, INVOICE)


def test_401_refreshes_once_then_retries(
    xero: Xero, rsps: responses.RequestsMock, creds: FakeCredentials
) -> None:
    rsps.get(
        f"{API}/Invoices",
        status=401,
        match=[matchers.header_matcher({"Authorization": "Bearer token-1"})],
    )
    invoice_ok(rsps, match=[matchers.header_matcher({"Authorization": "Bearer token-2"})])
    assert xero.get(Entity.INVOICE, INVOICE) is not None
    assert creds.refreshes == ["token-1"]


def test_second_401_means_reauthorize(
    xero: Xero, rsps: responses.RequestsMock, creds: FakeCredentials
) -> None:
    rsps.get(f"{API}/Invoices", status=401)
    rsps.get(f"{API}/Invoices", status=401)
    with pytest.raises(Reauthorize):
        xero.get(Entity.INVOICE, INVOICE)
    assert creds.refreshes == ["token-1"]


def test_403_means_the_tenant_is_disconnected(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/Invoices", status=403, json=fixture("forbidden_403.json"))
    with pytest.raises(Reauthorize, match="no longer connected"):
        xero.get(Entity.INVOICE, INVOICE)


def test_validation_exception_is_rejected_with_xeros_words(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.put(
        f"{API}/Contacts/c1/History",
        status=400,
        json=fixture("validation_error.json"),
    )
    with pytest.raises(Rejected) as caught:
        xero.write(AddNote(Entity.CUSTOMER, "c1", "Called them"), idempotency_key="k1")
    assert caught.value.message == "Xero rejected the request: Email address must be valid."
    assert caught.value.code == "ValidationException"
    assert len(rsps.calls) == 1  # no retry


def test_404_is_not_found(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/Payments/p1", status=404, body="The resource you're looking for cannot be found"
    )
    rsps.get(f"{API}/Organisation", status=404)
    assert xero.get(Entity.PAYMENT, "p1") is None
    with pytest.raises(NotFound):
        xero.api.get("Organisation")


def test_tokens_never_reach_the_log(
    xero: Xero, rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rsps.get(f"{API}/Invoices", status=401)
    invoice_ok(rsps)
    xero.get(Entity.INVOICE, INVOICE)
    assert "xero GET" in caplog.text
    assert "token-1" not in caplog.text and "token-2" not in caplog.text


def test_request_bodies_keep_decimals_exact() -> None:
    body = {"Amount": Decimal("2.30"), "Lines": [{"Qty": Decimal("1"), "Ok": True, "No": None}]}
    assert dumps(body) == b'{"Amount":2.30,"Lines":[{"Qty":1,"Ok":true,"No":null}]}'
    with pytest.raises(TypeError):
        dumps({"Amount": 2.3})


def test_overlong_idempotency_key_is_refused(xero: Xero) -> None:
    with pytest.raises(ValueError):
        xero.api.put("ContactGroups", {}, idempotency_key="k" * 129)
