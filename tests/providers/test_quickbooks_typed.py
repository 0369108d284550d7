"""The typed invoice decoder gives exactly the records of the generic path (JSON -> dicts ->
mapping.invoice), on the fixtures and on odd inputs; a page it cannot take whole goes through
the generic path, and a broken page is still a clear error."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from providers.base import Entity
from providers.base import Unavailable
from providers.config import ProviderSettings
from providers.jsonbody import decode_json
from providers.quickbooks import QuickBooks
from providers.quickbooks import mapping
from providers.quickbooks import typed
from providers.quickbooks.listing import cdc_objects

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
STAMP = datetime(2026, 5, 14, 17, 0, tzinfo=UTC)
BASE = "https://qbo.test"
REALM = "9130"
URL = f"{BASE}/v3/company/{REALM}"
FIRST_PAGE = (
    "SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
)


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture_invoices() -> list[str]:
    """Every invoice of the fixtures, as JSON text."""
    singles = ["invoice_foreign.json", "invoice_paid.json", "invoice_partial_terms.json"]
    singles.append("invoice_voided.json")
    found = [json.loads(fixture_text(name))["Invoice"] for name in singles]
    cdc = cdc_objects(json.loads(fixture_text("cdc_invoices_with_delete.json")))
    return [json.dumps(invoice) for invoice in found + cdc["Invoice"]]


def context(home: str | None = "USD") -> mapping.Context:
    terms = mapping.terms_by_id(json.loads(fixture_text("terms.json"))["QueryResponse"]["Term"])
    terms["3"] = mapping.Term(discount_percent=mapping.money(2), discount_days=10)
    return mapping.Context(home_currency=home, terms=terms, fallback_time=STAMP)


def page(*invoices: str) -> bytes:
    rows = ",".join(invoices)
    return f'{{"QueryResponse":{{"Invoice":[{rows}]}},"time":"2026-05-14T10:00:00-07:00"}}'.encode()


def generic(body: bytes, ctx: mapping.Context) -> list[Any]:
    rows = decode_json(body)["QueryResponse"]["Invoice"]
    return [mapping.invoice(row, ctx) for row in rows]


def typed_records(body: bytes, ctx: mapping.Context) -> list[Any]:
    rows = typed.invoices(body)
    assert rows is not None, "the typed decoder refused the page"
    return [typed.invoice(row, ctx) for row in rows]


def assert_same(body: bytes, ctx: mapping.Context) -> None:
    expected, got = generic(body, ctx), typed_records(body, ctx)
    assert got == expected
    # Equal Decimals may differ in exponent ("1.0" == "1.00"); the records must not.
    assert [repr(record) for record in got] == [repr(record) for record in expected]


@pytest.mark.parametrize("home", ["USD", "CAD", None])
def test_fixture_invoices_map_the_same(home):
    assert_same(page(*fixture_invoices()), context(home))


def edited(change: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    invoice = json.loads(fixture_text("invoice_partial_terms.json"))["Invoice"]
    for name in drop:
        invoice.pop(name, None)
    return json.dumps(invoice | change)


READ_FIELDS = (
    "Id",
    "SyncToken",
    "MetaData",
    "CustomerRef",
    "DocNumber",
    "TxnDate",
    "DueDate",
    "CurrencyRef",
    "TotalAmt",
    "Balance",
    "PrivateNote",
    "BillEmail",
    "SalesTermRef",
    "InvoiceLink",
    "EmailStatus",
)


@pytest.mark.parametrize("name", READ_FIELDS)
def test_a_missing_field_maps_the_same(name):
    assert_same(page(edited({}, drop=(name,))), context())


@pytest.mark.parametrize("name", [n for n in READ_FIELDS if n not in ("Id", "SyncToken")])
def test_a_null_field_maps_the_same(name):
    assert_same(page(edited({name: None})), context())


@pytest.mark.parametrize(
    "changes",
    [
        {"MetaData": {}},
        {"MetaData": {"LastUpdatedTime": "not a time"}},
        {"MetaData": {"LastUpdatedTime": "0001-01-01T00:00:00+01:00"}},
        {"MetaData": {"LastUpdatedTime": "2026-05-12T10:15:30.123456789-07:00"}},
        {"TxnDate": "2026-13-45", "DueDate": ""},
        {"CustomerRef": {"name": "no value"}, "CurrencyRef": {"value": ""}},
        {"BillEmail": {"Address": "   "}},
        {"EmailStatus": "NeedToSend"},
        {"EmailStatus": "NotSet"},
        {"TxnStatus": "Voided"},
        {"TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided by the office"},
        {"TotalAmt": 10, "Balance": 0},
        {"status": "Deleted"},
        {"ExchangeRate": 1.2345678901234567890123},
        {"ExchangeRate": 0},
        {"CurrencyRef": {"value": "EUR"}},
        {"DocNumber": ""},
    ],
)
def test_odd_values_map_the_same(changes):
    assert_same(page(edited(changes)), context())


@pytest.mark.parametrize(
    "amounts",
    [
        "123456789012.123456789012345678",
        "-42.50",
        "-0.0",
        "1.5e2",
        "1E-3",
        "2.5E+3",
        "100",
        '"88.10"',
    ],
)
def test_amounts_keep_every_digit(amounts):
    text = edited({"TotalAmt": "@", "Balance": "@", "ExchangeRate": "@"})
    body = page(text.replace('"@"', amounts))
    assert_same(body, context())
    (record,) = typed_records(body, context())
    assert str(record.total) == str(mapping.money(decode_json(amounts)))


def test_unknown_fields_are_ignored():
    extra = {"NewField": {"deep": [1, 2.5, {"x": None}]}, "ProjectRef": {"value": "9"}}
    assert_same(page(edited(extra)), context())


@pytest.mark.parametrize(
    "body",
    [
        page(edited({"Id": 130})),
        page(edited({"TotalAmt": "lots"})),
        page(edited({"TotalAmt": True})),
        page(edited({"TxnDate": 20260501})),
        page(edited({"CustomerRef": "58"})),
        b'{"QueryResponse":{"Invoice":' + edited({}).encode() + b"}}",
        b'{"Fault":{"Error":[{"Message":"boom","code":"500"}]}}',
        b"<html>not JSON</html>",
    ],
)
def test_what_the_typed_decoder_cannot_take_is_left_to_the_generic_path(body):
    assert typed.invoices(body) is None


# ---------------------------------------------------------------- through the adapter


class StaticCredentials:
    def access_token(self) -> str:
        return "token-1"

    def refreshed(self, rejected: str) -> str:
        raise AssertionError("no refresh expected")


def provider() -> QuickBooks:
    qb = QuickBooks(
        ProviderSettings(api_base=BASE), REALM, StaticCredentials(), http=requests.Session()
    )
    qb.clock = lambda: STAMP
    qb.api.sleep = lambda seconds: None
    return qb


def listed_and_generic(body: bytes) -> tuple[list[Any], list[Any]]:
    """(what a listing of `body` gives, what the generic path makes of the same objects)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        params = {"query": FIRST_PAGE, "include": "invoiceLink", "minorversion": "75"}
        mock.get(f"{URL}/query", body=body, match=[matchers.query_param_matcher(params)])
        mock.get(f"{URL}/query", body=fixture_text("terms.json"))
        mock.get(f"{URL}/preferences", body=fixture_text("preferences.json"))
        listed = [
            record for page in provider().list_changed(Entity.INVOICE, None) for record in page
        ]
        rows = decode_json(body)["QueryResponse"]["Invoice"]
        return listed, provider().to_records(Entity.INVOICE, rows, STAMP)


@pytest.mark.parametrize(
    "odd",
    [
        {},
        {"CurrencyRef": None},
        {"Id": 130},
        {"TotalAmt": "362.07"},
        {"TotalAmt": "lots"},
        {"CustomerRef": "58"},
    ],
)
def test_a_listing_gives_the_records_of_the_generic_path(odd):
    listed, expected = listed_and_generic(page(*fixture_invoices(), edited(odd)))
    assert listed == expected
    assert [repr(record) for record in listed] == [repr(record) for record in expected]


def test_a_page_that_is_not_json_is_a_clear_error():
    with pytest.raises(Unavailable, match="not JSON"):
        listed_and_generic(b'{"QueryResponse":{"Invoice":[{"Id":"1",')
