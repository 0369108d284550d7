"""The QuickBooks sandbox's provider side of delivery: the write log, replays applied once,
invoice links and the pay-online page, and faults scoped to a company, a path and writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from sandbox import SandboxConfig
from sandbox import create_app
from tests.sandbox.test_quickbooks_sandbox import HARBOUR
from tests.sandbox.test_quickbooks_sandbox import LARKSPUR
from tests.sandbox.test_quickbooks_sandbox import bearer
from tests.sandbox.test_quickbooks_sandbox import connect
from tests.sandbox.test_quickbooks_sandbox import qbo
from tests.sandbox.test_quickbooks_sandbox import refresh

LINK = {"include": "invoiceLink", "minorversion": "75"}


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small", webhook_delay_seconds=60))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def token(client) -> dict:
    return connect(client)


def open_invoice(client, realm: str = LARKSPUR) -> dict:
    return client.get(f"/_sandbox/quickbooks/{realm}/open-invoices").json["invoices"][0]


def read(client, token: dict, invoice_id: str, **params: str) -> dict:
    answer = client.get(
        qbo(LARKSPUR, f"invoice/{invoice_id}"), headers=bearer(token), query_string=params
    )
    assert answer.status_code == 200, answer.data
    return answer.json["Invoice"]


def note(client, token: dict, invoice: dict, text: str, requestid: str, realm: str = LARKSPUR):
    body = {
        "Id": invoice["Id"],
        "SyncToken": invoice["SyncToken"],
        "sparse": True,
        "PrivateNote": text,
    }
    return client.post(
        qbo(realm, "invoice"),
        json=body,
        headers=bearer(token),
        query_string={"requestid": requestid, "minorversion": "75"},
    )


def writes(client, **filters: str) -> list[dict]:
    answer = client.get("/_sandbox/writes", query_string=filters)
    assert answer.status_code == 200, answer.data
    return answer.json["writes"]


def arm(client, **spec) -> None:
    answer = client.post("/_sandbox/faults", json={"provider": "quickbooks", **spec})
    assert answer.status_code == 200, answer.data


# ---------------------------------------------------------------- the write log


def test_a_write_is_logged_with_its_key_body_and_what_it_applied(client, token):
    invoice = read(client, token, open_invoice(client)["id"])
    assert note(client, token, invoice, "Reminder 1 sent", "act-1").status_code == 200
    (entry,) = writes(client, provider="quickbooks", tenant=LARKSPUR)
    assert (entry["method"], entry["path"], entry["status"]) == (
        "POST",
        qbo(LARKSPUR, "invoice"),
        200,
    )
    assert entry["idempotency_key"] == "act-1" and entry["replay"] is False
    assert entry["body"]["PrivateNote"] == "Reminder 1 sent"
    assert entry["applied"] == [f"Invoice {invoice['Id']} updated: PrivateNote"]
    assert writes(client, provider="xero") == []


def test_a_replayed_requestid_is_logged_as_a_replay_and_applied_once(client, token):
    invoice = read(client, token, open_invoice(client)["id"])
    first = note(client, token, invoice, "Called AP", "act-2")
    again = note(client, token, invoice, "Called AP", "act-2")
    assert first.json["Invoice"]["SyncToken"] == again.json["Invoice"]["SyncToken"]
    assert read(client, token, invoice["Id"])["SyncToken"] == first.json["Invoice"]["SyncToken"]
    entries = writes(client)
    assert [(e["replay"], bool(e["applied"])) for e in entries] == [(False, True), (True, False)]
    (later,) = writes(client, since=str(entries[0]["seq"]))
    assert later["replay"] is True
    assert client.get("/_sandbox/writes", query_string={"since": "x"}).status_code == 400


def test_reads_are_not_writes_and_a_refused_write_is_logged_with_the_answer(client, token):
    invoice = read(client, token, open_invoice(client)["id"])
    client.post(
        qbo(LARKSPUR, "query"),
        data="SELECT * FROM Invoice MAXRESULTS 1",
        headers={**bearer(token), "Content-Type": "application/text"},
    )
    stale = {**invoice, "SyncToken": str(int(invoice["SyncToken"]) + 5)}
    assert note(client, token, stale, "too late", "act-3").status_code == 400
    (entry,) = writes(client)
    assert entry["status"] == 400 and entry["applied"] == []
    assert "Stale Object Error" in entry["answer"]


def test_sending_an_invoice_fires_the_emailed_webhook_and_logs_the_address(app, client, token):
    events = []
    app.extensions["sandbox_quickbooks"].store.listeners.append(events.extend)
    invoice_id = open_invoice(client)["id"]
    sent = client.post(
        qbo(LARKSPUR, f"invoice/{invoice_id}/send"),
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
        query_string={"sendTo": "ap@example.test", "requestid": "send-1"},
    )
    assert sent.status_code == 200 and sent.json["Invoice"]["EmailStatus"] == "EmailSent"
    assert [(e.name, e.entity_id, e.operation) for e in events] == [
        ("Invoice", invoice_id, "Emailed")
    ]
    (entry,) = writes(client)
    assert any("emailed to ap@example.test" in line for line in entry["applied"])


def test_the_writes_page_lists_them_with_the_company_name(client, token):
    invoice = read(client, token, open_invoice(client)["id"])
    note(client, token, invoice, "Promised Friday", "act-4")
    page = client.get("/_sandbox/writes/page", query_string={"provider": "quickbooks"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Larkspur Landscaping" in text
    assert "act-4" in text and "PrivateNote" in text
    assert client.get("/_sandbox/writes/page", query_string={"provider": "sage"}).status_code == 400
    assert 'href="/_sandbox/writes/page"' in client.get("/_sandbox/").get_data(as_text=True)
    assert client.delete("/_sandbox/writes").status_code == 200 and writes(client) == []


# ---------------------------------------------------------------- invoice links and paying online


def test_invoice_links_only_when_asked_and_only_for_invoices_payable_online(client, token):
    invoice_id = open_invoice(client)["id"]
    assert "InvoiceLink" not in read(client, token, invoice_id)
    linked = read(client, token, invoice_id, **LINK)
    expected = f"http://localhost/_sandbox/pay/quickbooks/{LARKSPUR}/{invoice_id}"
    assert linked["InvoiceLink"] == expected
    listed = client.get(
        qbo(LARKSPUR, "query"),
        headers=bearer(token),
        query_string={"query": f"SELECT * FROM Invoice WHERE Id = '{invoice_id}'", **LINK},
    ).json["QueryResponse"]["Invoice"]
    assert [i["InvoiceLink"] for i in listed] == [expected]
    offline = {
        "CustomerRef": linked["CustomerRef"],
        "Line": [{"Amount": 50, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}],
        "AllowOnlineCreditCardPayment": False,
        "AllowOnlineACHPayment": False,
    }
    created = client.post(qbo(LARKSPUR, "invoice"), json=offline, headers=bearer(token))
    assert created.status_code == 200, created.data
    assert "InvoiceLink" not in read(client, token, created.json["Invoice"]["Id"], **LINK)


def test_cdc_carries_links_when_asked(client, token, app):
    clock = app.extensions["sandbox_quickbooks"].clock
    since = (clock.now() - timedelta(days=20)).isoformat()
    params = {"entities": "Invoice", "changedSince": since, **LINK}
    answer = client.get(qbo(LARKSPUR, "cdc"), headers=bearer(token), query_string=params)
    invoices = answer.json["CDCResponse"][0]["QueryResponse"][0]["Invoice"]
    assert any("InvoiceLink" in i for i in invoices)


def test_the_pay_online_page_pays_the_invoice(client):
    invoice = open_invoice(client)
    path = f"/_sandbox/pay/quickbooks/{LARKSPUR}/{invoice['id']}"
    page = client.get(path).get_data(as_text=True)
    assert f"invoice {invoice['number']}" in page and invoice["balance"] in page
    paid = client.post(path)
    assert paid.status_code == 303 and "paid=" in paid.headers["Location"]
    after = client.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Thank you" in after and "Nothing is left to pay" not in after
    assert invoice["id"] not in [
        i["id"]
        for i in client.get(f"/_sandbox/quickbooks/{LARKSPUR}/open-invoices").json["invoices"]
    ]
    assert client.post(path).status_code == 400
    assert client.get(f"/_sandbox/pay/quickbooks/{LARKSPUR}/999999").status_code == 404


# ---------------------------------------------------------------- faults


def test_a_reject_fault_answers_writes_of_one_company_with_its_message(client, token):
    harbour = connect(client, HARBOUR)
    arm(client, kind="reject", tenant=LARKSPUR, message="Customer is on hold in QuickBooks")
    invoice = read(client, token, open_invoice(client)["id"])  # reads pass
    other = client.get(
        qbo(HARBOUR, f"invoice/{open_invoice(client, HARBOUR)['id']}"), headers=bearer(harbour)
    ).json["Invoice"]
    assert note(client, harbour, other, "fine", "h-1", realm=HARBOUR).status_code == 200
    refused = note(client, token, invoice, "nope", "l-1")
    error = refused.json["Fault"]["Error"][0]
    assert refused.status_code == 400 and refused.json["Fault"]["type"] == "ValidationFault"
    assert error["code"] == "6000" and "Customer is on hold in QuickBooks" in error["Detail"]
    assert note(client, token, invoice, "now fine", "l-2").status_code == 200


def test_a_stale_fault_on_a_path_and_a_throttle_with_retry_after(client, token):
    invoice = read(client, token, open_invoice(client)["id"])
    arm(client, kind="stale", paths=["/send"])
    assert note(client, token, invoice, "unaffected", "s-1").status_code == 200
    sent = client.post(
        qbo(LARKSPUR, f"invoice/{invoice['Id']}/send"),
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
    )
    assert sent.status_code == 400 and sent.json["Fault"]["Error"][0]["code"] == "5010"
    arm(client, kind="rate_limit", retry_after=30, methods=["POST"])
    limited = note(client, token, read(client, token, invoice["Id"]), "later", "s-2")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
    assert "ThrottleExceeded" in limited.get_data(as_text=True)


def test_revoking_one_company_leaves_the_other_connected(client, token):
    harbour = connect(client, HARBOUR)
    arm(client, kind="revoke", tenant=LARKSPUR)
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 401
    assert refresh(client, token["refresh_token"]).json["error"] == "invalid_grant"
    assert client.get(qbo(HARBOUR, "preferences"), headers=bearer(harbour)).status_code == 200
    assert refresh(client, harbour["refresh_token"]).status_code == 200
    client.delete("/_sandbox/faults", query_string={"provider": "quickbooks", "tenant": LARKSPUR})
    assert client.post("/_sandbox/faults", json={}).status_code == 400


@pytest.mark.parametrize(
    "spec",
    [
        {"provider": "xero", "kind": "stale"},
        {"provider": "quickbooks", "kind": "explode"},
        {"provider": "quickbooks", "kind": "reject", "count": 0},
        {"provider": "quickbooks", "kind": "reject", "paths": "/send"},
        {"provider": "quickbooks", "kind": "reject", "methods": ["PATCH"]},
        {"provider": "quickbooks", "kind": "reject", "wat": 1},
        {"provider": "quickbooks", "kind": "rate_limit", "retry_after": -1},
    ],
)
def test_a_bad_fault_is_a_400_that_names_the_problem(client, spec):
    answer = client.post("/_sandbox/faults", json=spec)
    assert answer.status_code == 400 and answer.json["error"]
