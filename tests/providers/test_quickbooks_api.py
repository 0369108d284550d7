"""The QuickBooks HTTP client against `responses`: headers, retries, refresh and faults."""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from providers.base import Conflict
from providers.base import Limit
from providers.base import NotFound
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Rejected
from providers.base import Unavailable
from providers.quickbooks.api import QuickBooksApi
from providers.quickbooks.api import encode_body
from providers.quickbooks.api import request_id
from providers.quickbooks.faults import parse_fault

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
BASE = "https://qbo.test"
REALM = "9130"
URL = f"{BASE}/v3/company/{REALM}"
THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-05-12T10:16:00-07:00">'
    '<Fault type="SERVICE"><Error code="3001">'
    "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
    "<Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>"
)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class FakeCredentials:
    """Hands out tokens in order; records which token was reported as rejected."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens or ("token-1", "token-2", "token-3"))
        self.current = self.tokens.pop(0)
        self.rejected: list[str] = []

    def access_token(self) -> str:
        return self.current

    def refreshed(self, rejected: str) -> str:
        self.rejected.append(rejected)
        self.current = self.tokens.pop(0)
        return self.current


class RecordingLimiter:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.slots: list[tuple[Limit, ...]] = []
        self.observed: list[tuple[Limit, int | None, float | None]] = []
        self.fail_with = fail_with

    @contextmanager
    def slot(self, limits):
        if self.fail_with:
            raise self.fail_with
        self.slots.append(limits)
        yield

    def observe(self, limit, remaining, retry_after):
        self.observed.append((limit, remaining, retry_after))


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        for call in mock.calls:
            assert "minorversion=75" in call.request.url
            assert call.request.headers["Accept"] == "application/json"


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make_api(sleeps):
    def make(credentials=None, limiter=None) -> QuickBooksApi:
        return QuickBooksApi(
            BASE,
            REALM,
            credentials or FakeCredentials(),
            limiter,
            requests.Session(),
            sleep=sleeps.append,
        )

    return make


def test_query_sends_version_accept_and_token_and_parses_decimals(rsps, make_api):
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Invoice": [{"Id": "1", "TotalAmt": 10.10}]}},
        match=[
            matchers.query_param_matcher({"query": "SELECT * FROM Invoice", "minorversion": "75"}),
            matchers.header_matcher({"Authorization": "Bearer token-1"}),
        ],
    )
    rows = make_api().query("SELECT * FROM Invoice")["Invoice"]
    assert rows[0]["TotalAmt"] == Decimal("10.10")
    assert isinstance(rows[0]["TotalAmt"], Decimal)


def test_every_call_takes_a_limiter_slot_for_the_realm(rsps, make_api):
    rsps.get(f"{URL}/invoice/1", json={"Invoice": {"Id": "1"}})
    limiter = RecordingLimiter()
    make_api(limiter=limiter).read("invoice", "1")
    assert limiter.slots == [(Limit(key="qbo:9130", per_minute=500, in_flight=10),)]


def test_throttled_xml_answer_is_retried_then_succeeds(rsps, make_api, sleeps):
    rsps.get(f"{URL}/invoice/1", body=THROTTLE_XML, status=429, content_type="text/xml")
    rsps.get(f"{URL}/invoice/1", json={"Invoice": {"Id": "1"}})
    limiter = RecordingLimiter()
    assert make_api(limiter=limiter).read("invoice", "1") == {"Invoice": {"Id": "1"}}
    assert len(rsps.calls) == 2
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 20
    (observed,) = limiter.observed
    assert observed[0].key == "qbo:9130" and observed[1] == 0 and observed[2] >= sleeps[0]


def test_throttling_that_persists_becomes_rate_limited_after_four_tries(rsps, make_api, sleeps):
    rsps.get(f"{URL}/invoice/1", body=THROTTLE_XML, status=429)
    with pytest.raises(RateLimited) as caught:
        make_api().read("invoice", "1")
    assert caught.value.retry_after == 60
    assert caught.value.code == "3001"
    assert len(rsps.calls) == 4
    # Exponential with jitter: attempt n waits between half and all of 2**(n-1) seconds.
    assert [0.5 <= sleeps[0] <= 1, 1 <= sleeps[1] <= 2, 2 <= sleeps[2] <= 4] == [True] * 3


def test_long_retry_after_is_handed_back_instead_of_waited(rsps, make_api, sleeps):
    rsps.get(f"{URL}/invoice/1", body="", status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        make_api().read("invoice", "1")
    assert caught.value.retry_after == 120
    assert len(rsps.calls) == 1 and sleeps == []


def test_server_errors_are_retried(rsps, make_api, sleeps):
    rsps.get(f"{URL}/invoice/1", body="<html>Service Unavailable</html>", status=503)
    rsps.get(f"{URL}/invoice/1", status=502)
    rsps.get(f"{URL}/invoice/1", json={"Invoice": {"Id": "1"}})
    assert make_api().read("invoice", "1")["Invoice"]["Id"] == "1"
    assert len(sleeps) == 2


def test_server_errors_that_persist_become_unavailable(rsps, make_api):
    rsps.get(f"{URL}/invoice/1", status=500)
    with pytest.raises(Unavailable, match="HTTP 500"):
        make_api().read("invoice", "1")
    assert len(rsps.calls) == 4


def test_network_failures_are_retried_then_unavailable(rsps, make_api):
    rsps.get(f"{URL}/invoice/1", body=requests.ConnectionError("connection reset"))
    with pytest.raises(Unavailable, match="did not answer"):
        make_api().read("invoice", "1")
    assert len(rsps.calls) == 4


def test_401_refreshes_once_and_retries_with_the_new_token(rsps, make_api):
    credentials = FakeCredentials("old", "new")
    rsps.get(
        f"{URL}/invoice/1",
        body=fixture("fault_authentication_401.json"),
        status=401,
        match=[matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    rsps.get(
        f"{URL}/invoice/1",
        json={"Invoice": {"Id": "1"}},
        match=[matchers.header_matcher({"Authorization": "Bearer new"})],
    )
    assert make_api(credentials).read("invoice", "1")["Invoice"]["Id"] == "1"
    assert credentials.rejected == ["old"]


def test_second_401_means_reauthorize(rsps, make_api):
    credentials = FakeCredentials("old", "new", "never")
    rsps.get(f"{URL}/invoice/1", body=fixture("fault_authentication_401.json"), status=401)
    with pytest.raises(Reauthorize) as caught:
        make_api(credentials).read("invoice", "1")
    assert credentials.rejected == ["old"]
    assert len(rsps.calls) == 2
    assert "AuthenticationFailed" in caught.value.message
    assert "Token expired: [redacted]" in caught.value.message
    assert "AB0160" not in caught.value.message
    assert caught.value.code == "3200"


def test_validation_fault_is_rejected_with_the_providers_message(rsps, make_api, sleeps):
    rsps.post(f"{URL}/customer", body=fixture("fault_duplicate_name.json"), status=400)
    with pytest.raises(Rejected) as caught:
        make_api().save("customer", {"DisplayName": "Acme"}, "key-1")
    assert caught.value.message == (
        "QuickBooks rejected the request: Duplicate Name Exists Error:"
        " The name supplied already exists. : null (code 6240)"
    )
    assert caught.value.code == "6240" and caught.value.status == 400
    assert len(rsps.calls) == 1 and sleeps == []


def test_stale_sync_token_is_a_conflict(rsps, make_api):
    rsps.post(f"{URL}/invoice", body=fixture("fault_stale_object.json"), status=400)
    with pytest.raises(Conflict, match="You and Jane Admin were working on this"):
        make_api().save("invoice", {"Id": "1", "SyncToken": "0", "sparse": True}, "key-1")


def test_object_not_found_fault_is_not_found(rsps, make_api):
    rsps.get(f"{URL}/invoice/404", body=fixture("fault_object_not_found.json"), status=400)
    with pytest.raises(NotFound) as caught:
        make_api().read("invoice", "404")
    assert caught.value.code == "610"


def test_writes_carry_requestid_and_exact_decimal_amounts(rsps, make_api):
    rsps.post(
        f"{URL}/creditmemo",
        json={"CreditMemo": {"Id": "9"}},
        match=[
            matchers.query_param_matcher({"requestid": "outbox-17", "minorversion": "75"}),
            matchers.header_matcher({"Content-Type": "application/json"}),
        ],
    )
    make_api().save("creditmemo", {"Line": [{"Amount": Decimal("3.24")}]}, "outbox-17")
    assert rsps.calls[0].request.body == '{"Line": [{"Amount": 3.24}]}'


def test_limiter_that_gives_up_becomes_rate_limited(make_api):
    class WaitedTooLong(Exception):
        retry_after = 12.5

    with pytest.raises(RateLimited) as caught:
        make_api(limiter=RecordingLimiter(fail_with=WaitedTooLong())).read("invoice", "1")
    assert caught.value.retry_after == 12.5


def test_ok_answer_that_is_not_json_is_unavailable(rsps, make_api):
    rsps.get(f"{URL}/invoice/1", body="<html>maintenance</html>", status=200)
    with pytest.raises(Unavailable, match="not JSON"):
        make_api().read("invoice", "1")


def test_request_id_is_at_most_fifty_characters_and_stable():
    assert request_id("short-key") == "short-key"
    assert request_id("key", "send:130") == "key:send:130"
    long_key = "rule:42:step:3:customer:58:period:2026-05:" + "x" * 40
    hashed = request_id(long_key)
    assert len(hashed) <= 50
    assert hashed == request_id(long_key)
    assert hashed != request_id(long_key, "payment")


def test_encode_body_never_goes_through_float():
    text = encode_body({"a": Decimal("0.1"), "b": [Decimal("-1234567890.123456789")], "c": "x"})
    assert json.loads(text, parse_float=Decimal) == {
        "a": Decimal("0.1"),
        "b": [Decimal("-1234567890.123456789")],
        "c": "x",
    }


def test_fault_shapes_parse_without_crashing():
    upper = parse_fault(fixture("fault_duplicate_name.json").encode())
    lower = parse_fault(fixture("fault_authentication_401.json").encode())
    xml = parse_fault(THROTTLE_XML.encode())
    assert (upper.code, upper.type) == ("6240", "ValidationFault")
    assert (lower.code, lower.type) == ("3200", "AUTHENTICATION")
    assert (xml.code, xml.type) == ("3001", "SERVICE")
    assert xml.describe() == (
        "message=ThrottleExceeded; errorCode=003001; statusCode=429:"
        " The request limit was reached. (code 3001)"
    )
    assert parse_fault(b"<html><body>oops</body></html>") is None
    assert parse_fault(b"\xff\xfe garbage") is None
    assert parse_fault(b'{"Fault": "weird"}') is None
