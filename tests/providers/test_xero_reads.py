"""Xero incremental listings and reads by id."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import responses
from responses import matchers

from providers.base import CreditNoteRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.xero import Xero
from tests.providers.test_xero_api import API
from tests.providers.test_xero_api import TENANT
from tests.providers.test_xero_api import FakeCredentials
from tests.providers.test_xero_api import fixture

LISTING = {"page": "1", "pageSize": "1000", "order": "UpdatedDateUTC ASC"}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def xero() -> Xero:
    settings = ProviderSettings(api_base=API)
    return Xero(settings, TENANT, FakeCredentials(), retry=RetryPolicy(sleep=lambda s: None))


def query(**params: str) -> list[Any]:
    return [matchers.query_param_matcher(params)]


def test_first_listing_has_no_if_modified_since(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/Invoices",
        json=fixture("invoices.json"),
        match=query(**LISTING, where='Type=="ACCREC"'),
    )
    pages = list(xero.list_changed(Entity.INVOICE, None))
    assert len(pages) == 1 and len(pages[0]) == 9
    assert all(isinstance(r, InvoiceRecord) for r in pages[0])
    stamps = [r.updated_at for r in pages[0]]
    assert stamps == sorted(stamps)
    assert "If-Modified-Since" not in rsps.calls[0].request.headers


def test_if_modified_since_is_a_rfc_1123_header(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/Invoices",
        json=fixture("invoices.json"),
        match=[
            matchers.header_matcher({"If-Modified-Since": "Fri, 02 Jan 2026 03:04:04 GMT"}),
            *query(**LISTING, where='Type=="ACCREC"'),
        ],
    )
    since = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert len(list(xero.list_changed(Entity.INVOICE, since))) == 1
    assert "If-Modified-Since" not in rsps.calls[0].request.url


def many_invoices(count: int, page: int, page_count: int | None) -> dict[str, Any]:
    template = fixture("invoices.json")["Invoices"][0]
    items = []
    for n in range(count):
        item = copy.deepcopy(template)
        item["InvoiceID"] = f"inv-{page}-{n:04d}"
        item["UpdatedDateUTC"] = f"/Date({1767323045123 + page * 10_000_000 + n}+0000)/"
        items.append(item)
    doc: dict[str, Any] = {"Status": "OK", "Invoices": items}
    if page_count is not None:
        doc["pagination"] = {"page": page, "pageSize": 1000, "pageCount": page_count}
    return doc


def test_pages_until_a_short_page(xero: Xero, rsps: responses.RequestsMock) -> None:
    base = {"pageSize": "1000", "order": "UpdatedDateUTC ASC", "where": 'Type=="ACCREC"'}
    rsps.get(f"{API}/Invoices", json=many_invoices(1000, 1, None), match=query(**base, page="1"))
    rsps.get(f"{API}/Invoices", json=many_invoices(1, 2, None), match=query(**base, page="2"))
    pages = list(xero.list_changed(Entity.INVOICE, None))
    assert [len(p) for p in pages] == [1000, 1]
    assert pages[1][0].external_id == "inv-2-0000"


def test_pagination_can_end_a_full_page(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/Invoices", json=many_invoices(1000, 1, 1))
    pages = list(xero.list_changed(Entity.INVOICE, None))
    assert [len(p) for p in pages] == [1000]
    assert len(rsps.calls) == 1


def test_contacts_include_archived(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(
        f"{API}/Contacts",
        json=fixture("contacts.json"),
        match=query(**LISTING, includeArchived="true"),
    )
    (page,) = list(xero.list_changed(Entity.CUSTOMER, None))
    assert len(page) == 4
    assert [r.active for r in page] == [True, False, False, True]


def test_payments_keep_customer_payments_only(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/Payments", json=fixture("payments.json"), match=query(**LISTING))
    (page,) = list(xero.list_changed(Entity.PAYMENT, None))
    assert [r.external_id[-1] for r in page] == ["1", "2"]


def test_credit_merges_notes_overpayments_and_prepayments(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.get(
        f"{API}/CreditNotes",
        json=fixture("credit_notes.json"),
        match=query(**LISTING, where='Type=="ACCRECCREDIT"'),
    )
    rsps.get(f"{API}/Overpayments", json=fixture("overpayments.json"), match=query(**LISTING))
    rsps.get(f"{API}/Prepayments", json=fixture("prepayments.json"), match=query(**LISTING))
    (page,) = list(xero.list_changed(Entity.CREDIT_NOTE, None))
    assert all(isinstance(r, CreditNoteRecord) for r in page)
    assert [r.external_id for r in page] == [
        "cn000000-0000-4000-8000-000000000001",
        "overpayment:o0000000-0000-4000-8000-000000000002",
        "prepayment:r0000000-0000-4000-8000-000000000001",
        "cn000000-0000-4000-8000-000000000003",
        "cn000000-0000-4000-8000-000000000004",
    ]


def test_get_invoice_uses_ids(xero: Xero, rsps: responses.RequestsMock) -> None:
    paid = "0e7c6f3a-1b0a-4c7e-9d0e-000000000006"
    body = {"Status": "OK", "Invoices": [fixture("invoices.json")["Invoices"][5]]}
    rsps.get(f"{API}/Invoices", json=body, match=query(IDs=paid))
    record = xero.get(Entity.INVOICE, paid)
    assert isinstance(record, InvoiceRecord)
    assert record.status == "paid"
    assert "where" not in rsps.calls[0].request.url


def test_get_a_bill_or_nothing_is_none(xero: Xero, rsps: responses.RequestsMock) -> None:
    bill = fixture("invoices.json")["Invoices"][8]
    rsps.get(f"{API}/Invoices", json={"Invoices": [bill]}, match=query(IDs=bill["InvoiceID"]))
    rsps.get(f"{API}/Invoices", json={"Invoices": []}, match=query(IDs="missing"))
    assert xero.get(Entity.INVOICE, bill["InvoiceID"]) is None
    assert xero.get(Entity.INVOICE, "missing") is None


def test_get_contact_uses_ids_and_archived(xero: Xero, rsps: responses.RequestsMock) -> None:
    archived = fixture("contacts.json")["Contacts"][1]
    cid = archived["ContactID"]
    rsps.get(
        f"{API}/Contacts",
        json={"Contacts": [archived]},
        match=query(IDs=cid, includeArchived="true"),
    )
    record = xero.get(Entity.CUSTOMER, cid)
    assert record is not None and record.active is False


def test_get_overpayment_by_prefixed_id(xero: Xero, rsps: responses.RequestsMock) -> None:
    raw = fixture("overpayments.json")["Overpayments"][1]
    rsps.get(f"{API}/Overpayments/{raw['OverpaymentID']}", json={"Overpayments": [raw]})
    record = xero.get(Entity.CREDIT_NOTE, f"overpayment:{raw['OverpaymentID']}")
    assert isinstance(record, CreditNoteRecord)
    assert record.remaining == Decimal("20.00")


def test_get_credit_note_and_payment_by_path(xero: Xero, rsps: responses.RequestsMock) -> None:
    note = fixture("credit_notes.json")["CreditNotes"][0]
    payment = fixture("payments.json")["Payments"][0]
    rsps.get(f"{API}/CreditNotes/{note['CreditNoteID']}", json={"CreditNotes": [note]})
    rsps.get(f"{API}/Payments/{payment['PaymentID']}", json={"Payments": [payment]})
    assert xero.get(Entity.CREDIT_NOTE, note["CreditNoteID"]) is not None
    found = xero.get(Entity.PAYMENT, payment["PaymentID"])
    assert found is not None and found.amount == Decimal("46.00")
