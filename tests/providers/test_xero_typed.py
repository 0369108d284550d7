"""The typed Invoices decoder gives exactly the records of the generic path (JSON -> dicts ->
mapping.invoice), on the fixtures and on odd inputs; a page it cannot take whole goes through
the generic path, and a broken page is still a clear error."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import responses

from providers.base import Entity
from providers.base import Unavailable
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.jsonbody import decode_json
from providers.xero import Xero
from providers.xero import mapping
from providers.xero import typed
from tests.providers.test_xero_api import API
from tests.providers.test_xero_api import TENANT
from tests.providers.test_xero_api import FakeCredentials

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero"
FILES = ("invoices.json", "invoice_after_discount.json", "invoice_for_discount.json")


def fixture_invoices() -> list[str]:
    """Every invoice of the fixtures (bills too), as JSON text."""
    found = [i for name in FILES for i in json.loads((FIXTURES / name).read_text())["Invoices"]]
    return [json.dumps(invoice) for invoice in found]


def page(*invoices: str) -> bytes:
    rows = ",".join(invoices)
    return f'{{"Id":"x","pagination":{{"page":1,"pageCount":1}},"Invoices":[{rows}]}}'.encode()


def generic(body: bytes) -> list[Any]:
    return [r for r in map(mapping.invoice, decode_json(body)["Invoices"]) if r is not None]


def typed_records(body: bytes) -> list[Any]:
    decoded = typed.invoices_page(body)
    assert decoded is not None, "the typed decoder refused the page"
    return [r for r in map(typed.invoice, decoded.Invoices) if r is not None]


def assert_same(body: bytes) -> None:
    expected, got = generic(body), typed_records(body)
    assert got == expected
    assert [repr(record) for record in got] == [repr(record) for record in expected]


def test_fixture_invoices_map_the_same():
    invoices = fixture_invoices()
    assert_same(page(*invoices))
    assert len(typed_records(page(*invoices))) < len(invoices)  # the bills are left out


def edited(change: dict[str, Any], drop: tuple[str, ...] = ()) -> str:
    invoice = json.loads((FIXTURES / "invoices.json").read_text())["Invoices"][0]
    for name in drop:
        invoice.pop(name, None)
    return json.dumps(invoice | change)


OPTIONAL = (
    "UpdatedDateUTCString",
    "Contact",
    "InvoiceNumber",
    "Date",
    "DateString",
    "DueDate",
    "DueDateString",
    "CurrencyCode",
    "Total",
    "AmountDue",
    "SentToContact",
    "CurrencyRate",
)


@pytest.mark.parametrize("name", OPTIONAL)
def test_a_missing_field_maps_the_same(name):
    assert_same(page(edited({}, drop=(name,))))


@pytest.mark.parametrize("name", OPTIONAL)
def test_a_null_field_maps_the_same(name):
    assert_same(page(edited({name: None})))


@pytest.mark.parametrize(
    "changes",
    [
        {"Status": "DRAFT", "SentToContact": True},
        {"Status": "SUBMITTED"},
        {"Status": "AUTHORISED", "AmountDue": 0},
        {"Status": "VOIDED"},
        {"Status": "DELETED"},
        {"Status": "PAID", "SentToContact": False},
        {"Contact": {"ContactID": "c1"}},
        {"Contact": {"EmailAddress": "  "}},
        {"InvoiceNumber": "  "},
        {"UpdatedDateUTC": None},
        {"UpdatedDateUTC": "2026-01-02T03:04:05"},
        {"DateString": None, "Date": "/Date(1767178800000+1300)/"},
        {"DateString": "", "Date": "/Date(0)/"},
        {"CurrencyRate": 0},
        {"CurrencyRate": 0.6123456789012345678},
        {"Type": "ACCPAY"},
    ],
)
def test_odd_values_map_the_same(changes):
    assert_same(page(edited(changes)))


@pytest.mark.parametrize(
    "amount",
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
def test_amounts_keep_every_digit(amount):
    body = page(
        edited({"Total": "@", "AmountDue": "@", "CurrencyRate": "@"}).replace('"@"', amount)
    )
    assert_same(body)
    (record,) = typed_records(body)
    assert str(record.total) == str(mapping.money(decode_json(amount)))


def test_unknown_fields_are_ignored():
    assert_same(page(edited({"NewThing": {"deep": [1, 2.5, None]}, "RepeatingInvoiceID": "r"})))


@pytest.mark.parametrize(
    "changes",
    [
        {"InvoiceID": 7},
        {"Total": ""},
        {"Total": "lots"},
        {"SentToContact": "true"},
        {"Contact": []},
    ],
)
def test_what_the_typed_decoder_cannot_take_is_left_to_the_generic_path(changes):
    assert typed.invoices_page(page(edited(changes))) is None


def test_a_document_without_an_id_is_refused_by_both_paths():
    body = page(edited({}, drop=("InvoiceID",)))
    with pytest.raises(ValueError, match="without InvoiceID"):
        generic(body)
    with pytest.raises(ValueError, match="without InvoiceID"):
        typed_records(body)


# ---------------------------------------------------------------- through the listing


def listed(body: bytes) -> list[Any]:
    xero = Xero(
        ProviderSettings(api_base=API),
        TENANT,
        FakeCredentials(),
        retry=RetryPolicy(sleep=lambda s: None),
    )
    with responses.RequestsMock() as mock:
        mock.get(f"{API}/Invoices", body=body)
        return [record for page in xero.list_changed(Entity.INVOICE, None) for record in page]


@pytest.mark.parametrize("odd", [{}, {"Total": "115.00"}, {"Total": ""}, {"InvoiceID": 7}])
def test_a_listing_gives_the_records_of_the_generic_path(odd):
    body = page(*fixture_invoices(), edited(odd))
    expected = generic(body)
    got = listed(body)
    assert got == expected
    assert [repr(record) for record in got] == [repr(record) for record in expected]


def test_a_page_that_is_not_json_is_a_clear_error():
    with pytest.raises(Unavailable, match="not JSON"):
        listed(b'{"Invoices":[{"InvoiceID":"1",')


@pytest.mark.parametrize(
    "rates",
    [
        ["1", "1.0", "1.000000", "1E+0"],
        ["0.6123456789012345678", "0.61234567890123456780"],
        ["1.6", "-1.6", "0", "0.0"],
    ],
)
def test_a_rate_met_again_gives_what_mapping_gives(rates):
    """The rates are remembered by value: each spelling of one value must give the same
    record as the generic path, whichever came first."""
    for rate in [*rates, *reversed(rates)]:
        body = page(edited({"CurrencyRate": "@"}).replace('"@"', rate))
        assert_same(body)
        (record,) = typed_records(body)
        assert str(record.home_rate) == str(mapping.home_rate(Decimal(rate)))
