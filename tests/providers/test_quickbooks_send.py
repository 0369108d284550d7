"""Sending invoices through QuickBooks' own email (reminders and SendInvoice) and reading their
online payment links, against `responses`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses
from responses import matchers

from providers.base import InvoiceRecord
from providers.base import Rejected
from providers.base import SendInvoice
from providers.base import SendReminder
from providers.quickbooks import QuickBooks
from tests.providers.test_quickbooks_writes import REALM
from tests.providers.test_quickbooks_writes import SETTINGS
from tests.providers.test_quickbooks_writes import TERMS_QUERY
from tests.providers.test_quickbooks_writes import URL
from tests.providers.test_quickbooks_writes import StaticCredentials
from tests.providers.test_quickbooks_writes import load
from tests.providers.test_quickbooks_writes import with_changes


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        assert all("minorversion=75" in call.request.url for call in mock.calls)


@pytest.fixture
def qb() -> QuickBooks:
    return QuickBooks(SETTINGS, REALM, StaticCredentials(), http=requests.Session())


def test_reminder_sends_each_invoice_through_quickbooks_email(rsps, qb):
    for invoice_id, name in (("130", "invoice_partial_terms.json"), ("131", "invoice_paid.json")):
        rsps.post(
            f"{URL}/invoice/{invoice_id}/send",
            json=with_changes(name, "Invoice", EmailStatus="EmailSent"),
            match=[
                matchers.query_param_matcher(
                    {
                        "sendTo": "ap@acme.test",
                        "requestid": f"rem-1:send:{invoice_id}",
                        "minorversion": "75",
                    }
                ),
                matchers.header_matcher({"Content-Type": "application/octet-stream"}),
            ],
        )
    reread(rsps, ("130", "invoice_partial_terms.json"), ("131", "invoice_paid.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"), match=query_matcher(TERMS_QUERY))
    command = SendReminder("58", ("130", "131"), "ap@acme.test", "Overdue", "Please pay")
    result = qb.write(command, idempotency_key="rem-1")
    assert [r.external_id for r in result.records] == ["130", "131"]
    assert result.reference == "Sent invoice 130, 131"


def reread(rsps, *invoices: tuple[str, str]) -> None:
    """The query that re-reads sent invoices by id, with their payment links."""
    ids = ", ".join(f"'{invoice_id}'" for invoice_id, _ in invoices)
    statement = f"SELECT * FROM Invoice WHERE Id IN ({ids}) STARTPOSITION 1 MAXRESULTS 100"
    rows = [
        with_changes(name, "Invoice", EmailStatus="EmailSent")["Invoice"] for _, name in invoices
    ]
    answer = {"QueryResponse": {"Invoice": rows}, "time": "2026-05-14T10:00:00.000-07:00"}
    rsps.get(f"{URL}/query", json=answer, match=query_matcher(statement, "invoiceLink"))


def query_matcher(statement: str, include: str | None = None) -> list:
    params = {"query": statement, "minorversion": "75", **({"include": include} if include else {})}
    return [matchers.query_param_matcher(params)]


def test_reminder_without_address_uses_the_invoice_bill_email(rsps, qb):
    rsps.post(
        f"{URL}/invoice/131/send",
        json=load("invoice_paid.json"),
        match=[matchers.query_param_matcher({"requestid": "r:send:131", "minorversion": "75"})],
    )
    reread(rsps, ("131", "invoice_paid.json"))
    qb.write(SendReminder("58", ("131",), None, "s", "b"), idempotency_key="r")


def test_send_invoice_sends_once_and_returns_the_reread_invoice_with_its_link(rsps, qb):
    rsps.post(
        f"{URL}/invoice/130/send",
        json=with_changes("invoice_partial_terms.json", "Invoice", EmailStatus="EmailSent"),
        match=[
            matchers.query_param_matcher(
                {"sendTo": "billing@acme.test", "requestid": "inv-9:send:130", "minorversion": "75"}
            ),
            matchers.header_matcher({"Content-Type": "application/octet-stream"}),
        ],
    )
    reread(rsps, ("130", "invoice_partial_terms.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"), match=query_matcher(TERMS_QUERY))
    result = qb.write(SendInvoice("130", "billing@acme.test"), idempotency_key="inv-9")
    (invoice,) = result.records
    assert isinstance(invoice, InvoiceRecord) and invoice.external_id == "130"
    assert invoice.link == "https://app.qbo.intuit.com/app/customer/pay?txnId=130&companyId=9130"
    assert result.reference == "Sent invoice 130"
    assert [c.request.method for c in rsps.calls] == ["POST", "GET", "GET"]


def test_send_invoice_refused_by_quickbooks_is_rejected_with_its_message(rsps, qb):
    fault = {
        "Fault": {
            "Error": [
                {
                    "Message": "A business validation error has occurred",
                    "Detail": "Business Validation Error: An email address is required",
                    "code": "6000",
                }
            ],
            "type": "ValidationFault",
        },
        "time": "2026-05-14T10:00:00.000-07:00",
    }
    rsps.post(f"{URL}/invoice/130/send", json=fault, status=400)
    with pytest.raises(Rejected) as raised:
        qb.write(SendInvoice("130"), idempotency_key="inv-10")
    assert "An email address is required" in raised.value.message
    assert raised.value.code == "6000"


def test_invoice_links_reads_the_links_in_one_query(rsps, qb):
    answer = {
        "QueryResponse": {
            "Invoice": [
                load("invoice_partial_terms.json")["Invoice"],
                {**load("invoice_paid.json")["Invoice"], "InvoiceLink": None},
            ]
        },
        "time": "2026-05-14T10:00:00.000-07:00",
    }
    statement = (
        "SELECT * FROM Invoice WHERE Id IN ('130', '131', '999') STARTPOSITION 1 MAXRESULTS 100"
    )
    rsps.get(f"{URL}/query", json=answer, match=query_matcher(statement, "invoiceLink"))
    links = qb.invoice_links(["130", "131", "999", "130"])
    assert links == {"130": "https://app.qbo.intuit.com/app/customer/pay?txnId=130&companyId=9130"}


def test_invoice_links_of_nothing_asks_nothing(rsps, qb):
    assert qb.invoice_links([]) == {}
