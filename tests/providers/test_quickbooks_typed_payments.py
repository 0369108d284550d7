"""The typed payment decoder gives exactly the records of the generic path (JSON -> dicts ->
mapping.payment), on the fixtures, on the sandbox's payments and on odd inputs; a page it cannot
take whole goes through the generic path."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

from providers.base import Entity
from providers.jsonbody import decode_json
from providers.quickbooks import mapping
from providers.quickbooks import typed
from sandbox import SandboxConfig
from sandbox import create_app
from tests.providers.test_quickbooks_typed import STAMP
from tests.providers.test_quickbooks_typed import URL
from tests.providers.test_quickbooks_typed import context
from tests.providers.test_quickbooks_typed import fixture_text
from tests.providers.test_quickbooks_typed import provider
from tests.sandbox.test_quickbooks_sandbox import LARKSPUR
from tests.sandbox.test_quickbooks_sandbox import connect
from tests.sandbox.test_quickbooks_sandbox import query

FIRST_PAGE = (
    "SELECT * FROM Payment ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
)
STUB = {"domain": "QBO", "status": "Deleted", "Id": "171", "MetaData": None}


def fixture_payments() -> list[str]:
    names = ("payment_multi_invoice.json", "payment_with_credit.json")
    return [json.dumps(json.loads(fixture_text(name))["Payment"]) for name in names]


def page(*payments: str) -> bytes:
    rows = ",".join(payments)
    return f'{{"QueryResponse":{{"Payment":[{rows}]}},"time":"2026-05-14T10:00:00-07:00"}}'.encode()


def generic(body: bytes, ctx: mapping.Context) -> list[Any]:
    return [mapping.payment(row, ctx) for row in decode_json(body)["QueryResponse"]["Payment"]]


def typed_records(body: bytes, ctx: mapping.Context) -> list[Any]:
    rows = typed.payments(body)
    assert rows is not None, "the typed decoder refused the page"
    return [typed.payment(row, ctx) for row in rows]


def assert_same(body: bytes, ctx: mapping.Context | None = None) -> None:
    ctx = ctx or context()
    expected, got = generic(body, ctx), typed_records(body, ctx)
    assert got == expected
    assert [repr(record) for record in got] == [repr(record) for record in expected]


@pytest.mark.parametrize("home", ["USD", "CAD", None])
def test_fixture_payments_map_the_same(home):
    assert_same(page(*fixture_payments(), json.dumps(STUB)), context(home))


def test_the_sandbox_payments_map_the_same():
    client = create_app(SandboxConfig(size="small")).test_client()
    answer = query(client, connect(client), "SELECT * FROM Payment MAXRESULTS 1000", LARKSPUR)
    assert answer.status_code == 200 and len(answer.json["QueryResponse"]["Payment"]) > 10
    assert_same(answer.data)


def edited(change: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    payment = json.loads(fixture_payments()[1])
    for name in drop:
        payment.pop(name, None)
    return json.dumps(payment | change)


READ_FIELDS = (
    "Id",
    "SyncToken",
    "MetaData",
    "CustomerRef",
    "TxnDate",
    "CurrencyRef",
    "TotalAmt",
    "UnappliedAmt",
    "Line",
)


@pytest.mark.parametrize("name", READ_FIELDS)
def test_a_missing_field_maps_the_same(name):
    assert_same(page(edited({}, drop=(name,))))


@pytest.mark.parametrize("name", [n for n in READ_FIELDS if n not in ("Id", "SyncToken")])
def test_a_null_field_maps_the_same(name):
    assert_same(page(edited({name: None})))


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "Deleted"},
        {"CustomerRef": {"value": ""}},
        {"CurrencyRef": {"name": "no value"}},
        {"TxnDate": "not a date"},
        {"MetaData": {"LastUpdatedTime": "garbage"}},
        {"TotalAmt": 362.07, "UnappliedAmt": "12.50"},
        {"Line": []},
        {"Line": [{"Amount": 5, "LinkedTxn": None}]},
        {"Line": [{"LinkedTxn": [{"TxnId": "132", "TxnType": "Invoice"}]}]},
        {"Line": [{"Amount": 5, "LinkedTxn": [{"TxnType": "Invoice"}]}]},
        {"Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": "9", "TxnType": "Deposit"}]}]},
        {
            "Line": [
                {
                    "Amount": 30,
                    "LinkedTxn": [
                        {"TxnId": "132", "TxnType": "Invoice"},
                        {"TxnId": "140", "TxnType": "Invoice"},
                    ],
                },
                {"Amount": 50, "LinkedTxn": [{"TxnId": "148", "TxnType": "CreditMemo"}]},
                {"Amount": 20, "LinkedTxn": [{"TxnId": "133", "TxnType": "Invoice"}]},
            ]
        },
    ],
)
def test_odd_values_map_the_same(changes):
    assert_same(page(edited(changes)))


@pytest.mark.parametrize(
    "changes",
    [
        {"Id": 170},
        {"TotalAmt": "lots"},
        {"TotalAmt": True},
        {"Line": {"Amount": 5}},
        {"Line": [{"Amount": 5, "LinkedTxn": [{"TxnId": 132, "TxnType": "Invoice"}]}]},
    ],
)
def test_what_the_typed_decoder_cannot_take_is_left_to_the_generic_path(changes):
    assert typed.payments(page(edited(changes))) is None


def listed_and_generic(body: bytes) -> tuple[list[Any], list[Any]]:
    """(what a listing of `body` gives, what the generic path makes of the same objects)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        params = {"query": FIRST_PAGE, "minorversion": "75"}
        mock.get(f"{URL}/query", body=body, match=[matchers.query_param_matcher(params)])
        mock.get(f"{URL}/preferences", body=fixture_text("preferences.json"))
        listed = [
            record for page in provider().list_changed(Entity.PAYMENT, None) for record in page
        ]
        rows = decode_json(body)["QueryResponse"]["Payment"]
        return listed, provider().to_records(Entity.PAYMENT, rows, STAMP)


@pytest.mark.parametrize("odd", [{}, {"CurrencyRef": None}, {"Id": 170}, {"TotalAmt": "lots"}])
def test_a_listing_gives_the_records_of_the_generic_path(odd, monkeypatch):
    decoded: list[bool] = []
    original = typed.payments
    monkeypatch.setattr(typed, "payments", lambda body: decoded.append(True) or original(body))
    listed, expected = listed_and_generic(page(*fixture_payments(), edited(odd)))
    assert decoded and listed == expected
    assert [repr(record) for record in listed] == [repr(record) for record in expected]
