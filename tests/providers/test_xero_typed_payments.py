"""The typed Payments decoder gives exactly the records of the generic path (JSON -> dicts ->
mapping.payment), on the fixtures, on the sandbox's payments and on odd inputs; a page it cannot
take whole goes through the generic path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses

from providers.base import Entity
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.jsonbody import decode_json
from providers.xero import Xero
from providers.xero import mapping
from providers.xero import typed
from sandbox import SandboxConfig
from sandbox import create_app
from tests.providers.test_xero_api import API
from tests.providers.test_xero_api import TENANT
from tests.providers.test_xero_api import FakeCredentials
from tests.sandbox.test_xero_sandbox import call
from tests.sandbox.test_xero_sandbox import connect

FIXTURE = Path(__file__).parent.parent / "fixtures" / "xero" / "payments.json"


def fixture_payments() -> list[str]:
    return [json.dumps(p) for p in json.loads(FIXTURE.read_text())["Payments"]]


def page(*payments: str) -> bytes:
    rows = ",".join(payments)
    return f'{{"Id":"x","pagination":{{"page":1,"pageCount":1}},"Payments":[{rows}]}}'.encode()


def generic(body: bytes) -> list[Any]:
    return [r for r in map(mapping.payment, decode_json(body)["Payments"]) if r is not None]


def typed_records(body: bytes) -> list[Any]:
    decoded = typed.payments_page(body)
    assert decoded is not None, "the typed decoder refused the page"
    return [r for r in map(typed.payment, decoded.Payments) if r is not None]


def assert_same(body: bytes) -> None:
    expected, got = generic(body), typed_records(body)
    assert got == expected
    assert [repr(record) for record in got] == [repr(record) for record in expected]


def test_fixture_payments_map_the_same():
    payments = fixture_payments()
    assert_same(page(*payments))
    assert 0 < len(typed_records(page(*payments))) < len(payments)  # supplier ones left out


def test_the_sandbox_payments_map_the_same():
    client = create_app(SandboxConfig(size="small")).test_client()
    tenant = client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"]
    tokens = connect(client, [tenant])
    answer = call(client, tokens, tenant, "Payments", query_string={"page": 1, "pageSize": 1000})
    assert answer.status_code == 200 and len(answer.json["Payments"]) > 10
    assert_same(answer.data)


def edited(change: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    payment = json.loads(fixture_payments()[0])
    for name in drop:
        payment.pop(name, None)
    return json.dumps(payment | change)


OPTIONAL = (
    "UpdatedDateUTCString",
    "PaymentType",
    "Status",
    "Invoice",
    "Amount",
    "Date",
    "CurrencyCode",
)


@pytest.mark.parametrize("name", OPTIONAL)
def test_a_missing_field_maps_the_same(name):
    assert_same(page(edited({}, drop=(name,))))


@pytest.mark.parametrize("name", OPTIONAL)
def test_a_null_field_maps_the_same(name):
    assert_same(page(edited({name: None})))


INVOICE = json.loads(fixture_payments()[0])["Invoice"]


@pytest.mark.parametrize(
    "changes",
    [
        {"PaymentType": ""},
        {"PaymentType": None, "Invoice": INVOICE | {"Type": "ACCPAY"}},
        {"PaymentType": "ACCPAYPAYMENT"},
        {"Status": "DELETED"},
        {"Status": "deleted"},
        {"Invoice": {}},
        {"Invoice": INVOICE | {"InvoiceID": None}},
        {"Invoice": INVOICE | {"Contact": None}},
        {"Invoice": INVOICE | {"Contact": {}}},
        {"Invoice": INVOICE | {"CurrencyCode": None}, "CurrencyCode": "AUD"},
        {"Invoice": INVOICE | {"CurrencyCode": ""}},
        {"UpdatedDateUTC": None},
        {"UpdatedDateUTC": "2026-01-02T03:04:05"},
        {"Date": "/Date(1767178800000+1300)/", "DateString": "2026-01-01T00:00:00"},
        {"Date": "/Date(0)/"},
        {"Amount": "46.10"},
        {"Amount": 1.5e2},
        {"Amount": 0},
    ],
)
def test_odd_values_map_the_same(changes):
    assert_same(page(edited(changes)))


@pytest.mark.parametrize(
    "changes",
    [
        {"PaymentID": 7},
        {"Amount": ""},
        {"Amount": "lots"},
        {"Invoice": []},
        {"Status": 1},
    ],
)
def test_what_the_typed_decoder_cannot_take_is_left_to_the_generic_path(changes):
    assert typed.payments_page(page(edited(changes))) is None


def test_a_payment_without_an_id_is_refused_by_both_paths():
    body = page(edited({}, drop=("PaymentID",)))
    with pytest.raises(ValueError, match="without PaymentID"):
        generic(body)
    with pytest.raises(ValueError, match="without PaymentID"):
        typed_records(body)


def listed(body: bytes) -> list[Any]:
    xero = Xero(
        ProviderSettings(api_base=API),
        TENANT,
        FakeCredentials(),
        retry=RetryPolicy(sleep=lambda s: None),
    )
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/Payments", body=body)
        return [record for page in xero.list_changed(Entity.PAYMENT, None) for record in page]


@pytest.mark.parametrize("odd", [{}, {"Amount": "46.00"}, {"Amount": ""}, {"PaymentID": 7}])
def test_a_listing_gives_the_records_of_the_generic_path(odd, monkeypatch):
    body = page(*fixture_payments(), edited(odd))
    expected = generic(body)
    decoded: list[bool] = []
    original = typed.payments_page
    monkeypatch.setattr(typed, "payments_page", lambda b: decoded.append(True) or original(b))
    got = listed(body)
    assert decoded and got == expected
    assert [repr(record) for record in got] == [repr(record) for record in expected]
