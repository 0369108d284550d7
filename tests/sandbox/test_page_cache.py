"""The sandbox's page cache: a listing read again is served from the cache, byte for byte what a
fresh render gives, and any change to the data (a write, a control change, a change made
in-process) is seen by the next read."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import SandboxConfig
from sandbox import create_app
from sandbox import page_cache
from sandbox.page_cache import PageCache
from sandbox.page_cache import marker
from sandbox.page_cache import spliced
from sandbox.quickbooks.state import EXTENSION as QBO
from sandbox.quickbooks.wire import dumps as qbo_dumps
from tests.sandbox.test_quickbooks_sandbox import LARKSPUR
from tests.sandbox.test_quickbooks_sandbox import bearer
from tests.sandbox.test_quickbooks_sandbox import connect as qbo_connect
from tests.sandbox.test_quickbooks_sandbox import qbo
from tests.sandbox.test_quickbooks_sandbox import query
from tests.sandbox.test_xero_sandbox import call
from tests.sandbox.test_xero_sandbox import connect as xero_connect

INVOICES = "SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 50"
# What changes from one answer to the next whatever the data: the envelopes' time and id.
PER_ANSWER = re.compile(rb'"(time|Id|DateTimeUTC)":"[^"]*"')


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small", webhook_delay_seconds=60))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def same(answer: Any) -> bytes:
    return PER_ANSWER.sub(b'"\\1":"-"', answer.data)


def stats(client: FlaskClient) -> dict[str, int]:
    return client.get("/_sandbox/page-cache").json


def linked_query(client: FlaskClient, token: dict, text: str = INVOICES) -> Any:
    params = {"query": text, "minorversion": "75", "include": "invoiceLink"}
    return client.get(qbo(LARKSPUR, "query"), query_string=params, headers=bearer(token))


def test_a_query_read_again_comes_from_the_cache_as_a_fresh_render_would(app, client):
    token = qbo_connect(client)
    first = linked_query(client, token)
    again = linked_query(client, token)
    assert stats(client)["hits"] == 1 and stats(client)["misses"] == 1
    page_cache.current(app).enabled = False
    fresh = linked_query(client, token)
    assert first.status_code == again.status_code == fresh.status_code == 200
    assert same(first) == same(again) == same(fresh)
    assert b"InvoiceLink" in fresh.data and len(fresh.json["QueryResponse"]["Invoice"]) == 50
    assert again.headers["Content-Type"] == fresh.headers["Content-Type"]


def test_batch_query_items_come_from_the_cache_as_a_fresh_render_would(app, client):
    token = qbo_connect(client)
    body = {
        "BatchItemRequest": [
            {"bId": "a", "Query": INVOICES},
            {"bId": "b", "Query": "SELECT * FROM Nothing"},
            {"bId": "c", "Query": "SELECT * FROM Customer MAXRESULTS 5"},
        ]
    }
    url = qbo(LARKSPUR, "batch")
    first, again = (client.post(url, json=body, headers=bearer(token)) for _ in range(2))
    assert stats(client)["hits"] == 2
    page_cache.current(app).enabled = False
    fresh = client.post(url, json=body, headers=bearer(token))
    assert same(first) == same(again) == same(fresh)
    answers = fresh.json["BatchItemResponse"]
    assert [a["bId"] for a in answers] == ["a", "b", "c"] and "Fault" in answers[1]


def test_quickbooks_changes_reach_the_next_read(app, client):
    token = qbo_connect(client)
    text = "SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime DESC MAXRESULTS 1"
    first = query(client, token, text).json["QueryResponse"]["Invoice"][0]
    made = client.post(
        f"/_sandbox/quickbooks/{LARKSPUR}/invoices",
        json={"customer_id": first["CustomerRef"]["value"], "amount": "10.00"},
    )
    assert made.status_code == 200
    after_write = query(client, token, text).json["QueryResponse"]["Invoice"][0]
    assert after_write["Id"] == made.json["Invoice"]["Id"] != first["Id"]
    store = app.extensions[QBO].store
    with store.change(LARKSPUR) as tx:  # in-process, as tests do: no request at all
        invoice = tx.company.editable("Invoice", after_write["Id"])
        invoice["PrivateNote"] = "changed in-process"
        tx.update("Invoice", invoice)
    latest = query(client, token, text).json["QueryResponse"]["Invoice"][0]
    assert latest["PrivateNote"] == "changed in-process"


def test_bookkeeping_requests_keep_the_cache(client):
    token = qbo_connect(client)
    query(client, token, INVOICES)
    client.delete("/_sandbox/quickbooks/requests")
    client.post("/_sandbox/quickbooks/limits", json={"per_minute": 1000})
    query(client, token, INVOICES)
    assert stats(client)["hits"] == 1
    client.post("/_sandbox/faults", json={"provider": "quickbooks", "kind": "slow", "seconds": 0})
    query(client, token, INVOICES)
    assert stats(client)["hits"] == 1  # a fault switch is a change: rendered afresh


def xero_tenant(client: FlaskClient) -> str:
    return str(client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"])


def xero_page(client: FlaskClient, tokens: dict[str, Any], tenant: str, **more: Any) -> Any:
    params = {"page": 1, "pageSize": 100, "order": "UpdatedDateUTC ASC", **more}
    return call(client, tokens, tenant, "Invoices", query_string=params)


def test_a_xero_page_read_again_comes_from_the_cache_as_a_fresh_render_would(app, client):
    tenant = xero_tenant(client)
    tokens = xero_connect(client, [tenant])
    first, again = xero_page(client, tokens, tenant), xero_page(client, tokens, tenant)
    unpaged = call(client, tokens, tenant, "Contacts")
    assert stats(client)["hits"] == 1
    page_cache.current(app).enabled = False
    fresh = xero_page(client, tokens, tenant)
    assert first.status_code == again.status_code == fresh.status_code == 200
    assert same(first) == same(again) == same(fresh)
    assert fresh.json["pagination"]["page"] == 1 and len(fresh.json["Invoices"]) == 100
    assert same(unpaged) == same(call(client, tokens, tenant, "Contacts"))
    assert b"pagination" not in unpaged.data


def test_xero_changes_reach_the_next_read(client):
    tenant = xero_tenant(client)
    tokens = xero_connect(client, [tenant])
    newest = {"order": "UpdatedDateUTC DESC", "where": 'Type=="ACCREC"&&Status=="AUTHORISED"'}
    invoice = xero_page(client, tokens, tenant, **newest).json["Invoices"][0]
    paid = client.post(
        f"/_sandbox/xero/{tenant}/payments",
        json={"invoice_id": invoice["InvoiceID"], "amount": "1.00"},
    )
    assert paid.status_code == 201
    after = xero_page(client, tokens, tenant, **newest).json["Invoices"][0]
    assert after["InvoiceID"] == invoice["InvoiceID"]
    assert after["AmountPaid"] == invoice["AmountPaid"] + 1


def test_spliced_is_the_whole_payload_rendered():
    payload = {"a": [1, 2.5, "x"], "b": {"c": None, "d": "é\x00"}, "t": "now"}
    parts = [qbo_dumps(payload["a"]), qbo_dumps(payload["b"])]
    with_markers = {"a": marker(0), "b": marker(1), "t": "now"}
    assert spliced(qbo_dumps, with_markers, parts) == qbo_dumps(payload)


def test_the_cache_drops_the_least_recently_used_past_its_size():
    cache = PageCache(max_bytes=10)
    assert cache.page("a", lambda: ("aaaa",)) == ("aaaa",)
    cache.page("b", lambda: ("bbbb",))
    cache.page("a", lambda: ("never",))  # a hit, and now the most recently used
    cache.page("c", lambda: ("cccc",))
    assert cache.describe()["pages"] == 2
    assert cache.page("a", lambda: ("again",)) == ("aaaa",)
    assert cache.page("b", lambda: ("bbbb 2",)) == ("bbbb 2",)
