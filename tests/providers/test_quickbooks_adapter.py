"""The QuickBooks provider against `responses`: connecting, listing, CDC and reads."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from responses import matchers

from providers.base import Entity
from providers.base import InvoiceStatus
from providers.base import Rejected
from providers.base import Tenant
from providers.base import Unavailable
from providers.config import ProviderSettings
from providers.quickbooks import QuickBooks
from providers.quickbooks.company import guess_timezone

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
BASE = "https://qbo.test"
REALM = "9130"
URL = f"{BASE}/v3/company/{REALM}"
NOW = datetime(2026, 5, 14, 17, 0, tzinfo=UTC)
SETTINGS = ProviderSettings(
    client_id="client-id",
    client_secret="client-secret",
    authorize_url="https://appcenter.test/connect/oauth2",
    token_url="https://oauth.test/tokens/bearer",
    revoke_url="https://developer.test/v2/oauth2/tokens/revoke",
    api_base=BASE,
)
VANCOUVER = "America/Vancouver"
TERMS_QUERY = "SELECT * FROM Term WHERE Active IN (true,false) STARTPOSITION 1 MAXRESULTS 1000"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


class StaticCredentials:
    def access_token(self) -> str:
        return "token-1"

    def refreshed(self, rejected: str) -> str:
        raise AssertionError("no refresh expected")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        for call in mock.calls:
            if call.request.url.startswith(BASE):
                assert "minorversion=75" in call.request.url
                assert call.request.headers["Accept"] == "application/json"


@pytest.fixture
def qb() -> QuickBooks:
    provider = QuickBooks(SETTINGS, REALM, StaticCredentials(), http=requests.Session())
    provider.clock = lambda: NOW
    provider.api.sleep = lambda seconds: None
    return provider


def query(statement: str) -> list:
    """Matches a query; invoice queries must ask for the payment link (include=invoiceLink)."""
    params = {"query": statement, "minorversion": "75"}
    if "FROM Invoice" in statement:
        params["include"] = "invoiceLink"
    return [matchers.query_param_matcher(params)]


def invoices(count: int, start: datetime, first_id: int = 1000) -> list[dict]:
    return [
        {
            "Id": str(first_id + n),
            "SyncToken": "0",
            "MetaData": {"LastUpdatedTime": (start + timedelta(seconds=n)).isoformat()},
            "CustomerRef": {"value": "58"},
            "CurrencyRef": {"value": "USD"},
            "TotalAmt": 10,
            "Balance": 10,
        }
        for n in range(count)
    ]


# ---------------------------------------------------------------- connecting


def test_oauth_spec():
    spec = QuickBooks.oauth(SETTINGS)
    assert spec.scopes == ("com.intuit.quickbooks.accounting", "openid", "profile", "email")
    assert spec.authorize_url == SETTINGS.authorize_url
    assert spec.revoke_url == SETTINGS.revoke_url


def test_identify_reads_company_info_and_preferences(rsps):
    rsps.get(f"{URL}/companyinfo/{REALM}", body=fixture("companyinfo.json"))
    rsps.get(f"{URL}/preferences", body=fixture("preferences.json"))
    tenants = QuickBooks.identify(SETTINGS, StaticCredentials(), {"realmId": REALM, "code": "c"})
    assert tenants == [
        Tenant(
            external_id=REALM,
            name="Larry's Bakery",
            currency="USD",
            timezone="America/Los_Angeles",
        )
    ]


def test_identify_without_realm_id_is_rejected():
    with pytest.raises(Rejected, match="realmId"):
        QuickBooks.identify(SETTINGS, StaticCredentials(), {"code": "c"})


@pytest.mark.parametrize(
    ("info", "zone"),
    [
        ({"Country": "US", "CompanyAddr": {"CountrySubDivisionCode": "NY"}}, "America/New_York"),
        ({"CompanyAddr": {"Country": "USA", "CountrySubDivisionCode": "tx"}}, "America/Chicago"),
        ({"CompanyAddr": {"Country": "canada", "CountrySubDivisionCode": "BC"}}, VANCOUVER),
        ({"Country": "AU", "LegalAddr": {"CountrySubDivisionCode": "WA"}}, "Australia/Perth"),
        ({"Country": "GB"}, "Europe/London"),
        ({"CompanyAddr": {"Country": "UK"}}, "Europe/London"),
        ({"Country": "US"}, None),
        ({"Country": "BR"}, None),
        ({}, None),
    ],
)
def test_time_zone_guess_from_the_company_address(info, zone):
    found = guess_timezone(info)
    assert found == zone
    if found:
        ZoneInfo(found)


def test_disconnect_revokes_with_the_access_token(rsps, qb):
    rsps.post(
        SETTINGS.revoke_url,
        json={},
        match=[
            matchers.json_params_matcher({"token": "token-1"}),
            matchers.header_matcher({"Authorization": "Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQ="}),
        ],
    )
    qb.disconnect(revoke_grant=True)
    assert len(rsps.calls) == 1


def test_disconnect_without_revoking_calls_nobody(rsps, qb):
    qb.disconnect(revoke_grant=False)
    assert len(rsps.calls) == 0


def test_disconnect_with_an_already_dead_token_is_fine(rsps, qb):
    rsps.post(SETTINGS.revoke_url, json={"error": "invalid_token"}, status=400)
    qb.disconnect(revoke_grant=True)


# ---------------------------------------------------------------- full listings


def test_customers_list_inactive_ones_too_and_page_by_start_position(rsps, qb):
    base = "SELECT * FROM Customer WHERE Active IN (true,false) ORDERBY Metadata.LastUpdatedTime"
    first = [
        {**row, "DisplayName": f"C{row['Id']}"}
        for row in invoices(1000, datetime(2026, 1, 1, tzinfo=UTC))
    ]
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Customer": first, "startPosition": 1, "maxResults": 1000}},
        match=query(f"{base} STARTPOSITION 1 MAXRESULTS 1000"),
    )
    rsps.get(
        f"{URL}/query",
        json={
            "QueryResponse": {
                "Customer": [
                    {"Id": "7", "Active": False, "SyncToken": "1", "CurrencyRef": {"value": "USD"}}
                ]
            }
        },
        match=query(f"{base} STARTPOSITION 1001 MAXRESULTS 1000"),
    )
    pages = list(qb.list_changed(Entity.CUSTOMER, None))
    assert [len(page) for page in pages] == [1000, 1]
    assert pages[1][0].active is False
    stamps = [record.updated_at for record in pages[0]]
    assert stamps == sorted(stamps)


def test_invoice_listing_stops_on_an_empty_page_and_loads_terms_once(rsps, qb):
    base = "SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime"
    rows = invoices(1000, datetime(2026, 1, 1, tzinfo=UTC))
    for row in rows:
        row["SalesTermRef"] = {"value": "3"}
    rsps.get(f"{URL}/query", body=fixture("terms.json"), match=query(TERMS_QUERY))
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Invoice": rows}},
        match=query(f"{base} STARTPOSITION 1 MAXRESULTS 1000"),
    )
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {}, "time": "2026-05-14T10:00:00-07:00"},
        match=query(f"{base} STARTPOSITION 1001 MAXRESULTS 1000"),
    )
    pages = list(qb.list_changed(Entity.INVOICE, None))
    assert [len(page) for page in pages] == [1000]
    assert {record.discount_percent for record in pages[0]} == {Decimal("2")}
    term_calls = [c for c in rsps.calls if "FROM+Term" in c.request.url]
    assert len(term_calls) == 1


def test_objects_without_currency_take_the_home_currency_once(rsps, qb):
    rows = [{"Id": "1", "SyncToken": "0"}, {"Id": "2", "SyncToken": "0"}]
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Payment": rows}},
        match=query(
            "SELECT * FROM Payment ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
        ),
    )
    rsps.get(f"{URL}/preferences", body=fixture("preferences.json"))
    (page,) = list(qb.list_changed(Entity.PAYMENT, None))
    assert [record.currency for record in page] == ["USD", "USD"]
    assert len([c for c in rsps.calls if "/preferences" in c.request.url]) == 1


# ---------------------------------------------------------------- CDC


def test_recent_cursor_reads_cdc_for_that_entity_with_deletes(rsps, qb):
    since = NOW - timedelta(days=2)
    rsps.get(
        f"{URL}/cdc",
        body=fixture("cdc_invoices_with_delete.json"),
        match=[
            matchers.query_param_matcher(
                {
                    "entities": "Invoice",
                    "changedSince": "2026-05-12T17:00:00+00:00",
                    "include": "invoiceLink",
                    "minorversion": "75",
                }
            )
        ],
    )
    (page,) = list(qb.list_changed(Entity.INVOICE, since))
    assert [(r.external_id, r.deleted) for r in page] == [
        ("151", False),
        ("266", True),
        ("150", False),
    ]
    assert page[1].status is InvoiceStatus.DELETED


def test_cdc_with_nothing_changed_yields_no_pages(rsps, qb):
    rsps.get(
        f"{URL}/cdc",
        json={"CDCResponse": [{"QueryResponse": [{}]}]},
        match=[matchers.query_param_matcher({"entities": "Payment"}, strict_match=False)],
    )
    assert list(qb.list_changed(Entity.PAYMENT, NOW - timedelta(hours=1))) == []
    assert "include" not in rsps.calls[0].request.url


def test_cdc_cap_falls_back_to_a_query_from_the_cursor_and_keeps_deletes(rsps, qb):
    since = NOW - timedelta(days=3)
    start = since + timedelta(minutes=1)
    stub = {"status": "Deleted", "Id": "1", "MetaData": {"LastUpdatedTime": "2026-05-11T17:30:00Z"}}
    capped = invoices(999, start) + [stub]
    rsps.get(f"{URL}/cdc", json={"CDCResponse": [{"QueryResponse": [{"Invoice": capped}]}]})
    base = (
        "SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '2026-05-11T17:00:00+00:00'"
        " ORDERBY Metadata.LastUpdatedTime"
    )
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Invoice": invoices(1000, start)}},
        match=query(f"{base} STARTPOSITION 1 MAXRESULTS 1000"),
    )
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {"Invoice": invoices(5, start + timedelta(hours=5), 5000)}},
        match=query(f"{base} STARTPOSITION 1001 MAXRESULTS 1000"),
    )
    pages = list(qb.list_changed(Entity.INVOICE, since))
    records = [record for page in pages for record in page]
    assert len(records) == 1000 + 5 + 1
    assert [r.external_id for r in records if r.deleted] == ["1"]
    stamps = [r.updated_at for r in records]
    assert stamps == sorted(stamps)


def test_cursor_older_than_thirty_days_falls_back_to_a_query(rsps, qb):
    since = NOW - timedelta(days=31)
    stamp = since.astimezone(UTC).replace(microsecond=0).isoformat()
    rsps.get(
        f"{URL}/query",
        json={"QueryResponse": {}, "time": "2026-05-10T10:00:00-07:00"},
        match=query(
            "SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= "
            f"'{stamp}' ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000"
        ),
    )
    assert list(qb.list_changed(Entity.INVOICE, since)) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        qb.list_changed(Entity.INVOICE, datetime(2026, 5, 10))


def test_several_entities_in_one_cdc_call(rsps, qb):
    answer = {
        "CDCResponse": [
            {
                "QueryResponse": [
                    {"Invoice": invoices(2, NOW - timedelta(hours=2))},
                    {"Customer": {"Id": "58", "SyncToken": "1", "DisplayName": "Acme"}},
                ]
            }
        ],
        "time": "2026-05-14T10:00:00-07:00",
    }
    rsps.get(
        f"{URL}/cdc",
        json=answer,
        match=[
            matchers.query_param_matcher(
                {"entities": "Invoice,Customer", "include": "invoiceLink"}, strict_match=False
            )
        ],
    )
    rsps.get(f"{URL}/preferences", body=fixture("preferences.json"))
    found = list(qb.list_changed_many([Entity.INVOICE, Entity.CUSTOMER], NOW - timedelta(days=1)))
    assert [(page.entity, len(page.records)) for page in found] == [
        (Entity.INVOICE, 2),
        (Entity.CUSTOMER, 1),
    ]
    assert found[1].records[0].currency == "USD"
    answered = datetime(2026, 5, 14, 17, 0, tzinfo=UTC)
    assert [page.as_of for page in found] == [answered, answered]  # the answer's "time"


def test_a_change_feed_answered_in_part_is_an_outage_not_an_empty_entity(rsps, qb):
    """A Fault inside the CDC answer: taking the rest would move the missing entity's cursor
    past changes it never got."""
    fault = {"Fault": {"Error": [{"Message": "Service busy", "code": "10000"}], "type": "Service"}}
    answer = {
        "CDCResponse": [{"QueryResponse": [{"Invoice": invoices(1, NOW)}, fault]}],
        "time": "2026-05-14T10:00:00-07:00",
    }
    rsps.get(f"{URL}/cdc", json=answer)
    with pytest.raises(Unavailable, match="answered in part: Service busy"):
        list(qb.list_changed_many([Entity.INVOICE, Entity.PAYMENT], NOW - timedelta(days=1)))


def test_an_answer_without_its_time_moves_no_cursor(rsps, qb):
    rsps.get(f"{URL}/cdc", json={"CDCResponse": [{"QueryResponse": [{}]}]})
    found = list(qb.list_changed_many([Entity.INVOICE, Entity.PAYMENT], NOW - timedelta(days=1)))
    assert [(page.entity, page.records, page.as_of) for page in found] == [
        (Entity.INVOICE, [], None),
        (Entity.PAYMENT, [], None),
    ]


# ---------------------------------------------------------------- reads


def test_get_invoice_asks_for_the_invoice_link(rsps, qb):
    rsps.get(
        f"{URL}/invoice/130",
        body=fixture("invoice_partial_terms.json"),
        match=[matchers.query_param_matcher({"include": "invoiceLink", "minorversion": "75"})],
    )
    rsps.get(f"{URL}/query", body=fixture("terms.json"), match=query(TERMS_QUERY))
    record = qb.get(Entity.INVOICE, "130")
    assert record.balance == Decimal("162.07")
    assert record.discount_days == 10
    assert record.link is not None


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, fixture("fault_object_not_found.json")), (404, "")],
)
def test_get_missing_object_is_none(rsps, qb, status, body):
    rsps.get(f"{URL}/creditmemo/77", body=body, status=status)
    assert qb.get(Entity.CREDIT_NOTE, "77") is None


def test_get_customer(rsps, qb):
    rsps.get(f"{URL}/customer/58", body=fixture("customer.json"))
    record = qb.get(Entity.CUSTOMER, "58")
    assert (record.name, record.email) == ("Acme Garden Supply", "ap@acme.test")
    assert record.version == "4"
    assert json.loads(fixture("customer.json"))["Customer"]["Id"] == record.external_id
