"""The Xero sandbox's provider side of delivery: the write log, Idempotency-Key replays applied
once, online invoices and the pay-online page, and faults scoped to an organisation and writes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import SandboxConfig
from sandbox import create_app
from tests.sandbox.test_xero_sandbox import call
from tests.sandbox.test_xero_sandbox import connect
from tests.sandbox.test_xero_sandbox import refresh
from tests.sandbox.test_xero_sandbox import sales


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tenants(client: FlaskClient) -> list[str]:
    return [o["tenantId"] for o in client.get("/_sandbox/xero/organisations").json["organisations"]]


@pytest.fixture
def two(client: FlaskClient, tenants: list[str]) -> tuple[dict[str, Any], str, str]:
    return connect(client, tenants[:2]), tenants[0], tenants[1]


def writes(client: FlaskClient, **filters: str) -> list[dict]:
    answer = client.get("/_sandbox/writes", query_string=filters)
    assert answer.status_code == 200, answer.data
    return answer.json["writes"]


def arm(client: FlaskClient, **spec: Any) -> None:
    answer = client.post("/_sandbox/faults", json={"provider": "xero", **spec})
    assert answer.status_code == 200, answer.data


def emailable(client: FlaskClient, tokens: dict, tenant: str, status: str = "AUTHORISED") -> dict:
    for invoice in sales(client, tokens, tenant, status):
        contact = call(client, tokens, tenant, f"Contacts/{invoice['Contact']['ContactID']}")
        if contact.json["Contacts"][0]["EmailAddress"]:
            return invoice
    raise AssertionError(f"no {status} invoice with an email address")


def email(client: FlaskClient, tokens: dict, tenant: str, invoice_id: str, key: str) -> Any:
    headers = {"Idempotency-Key": key}
    return call(
        client, tokens, tenant, f"Invoices/{invoice_id}/Email", "POST", json={}, headers=headers
    )


def note(client: FlaskClient, tokens: dict, tenant: str, invoice_id: str, text: str) -> Any:
    body = {"HistoryRecords": [{"Details": text}]}
    return call(client, tokens, tenant, f"Invoices/{invoice_id}/History", "PUT", json=body)


# ---------------------------------------------------------------- the write log


def test_an_email_is_logged_and_a_replayed_key_sends_nothing_more(client, two):
    tokens, tenant, _ = two
    invoice = emailable(client, tokens, tenant)
    assert email(client, tokens, tenant, invoice["InvoiceID"], "act-1").status_code == 204
    assert email(client, tokens, tenant, invoice["InvoiceID"], "act-1").status_code == 204
    sent = client.get(f"/_sandbox/xero/{tenant}/emails").json["emails"]
    assert [e["invoiceId"] for e in sent] == [invoice["InvoiceID"]]
    first, again = writes(client, provider="xero", tenant=tenant)
    assert (first["idempotency_key"], first["status"], first["replay"]) == ("act-1", 204, False)
    assert first["applied"] and "emailed to" in first["applied"][0]
    assert (again["replay"], again["applied"]) == (True, [])


def test_notes_credit_notes_and_allocations_say_what_they_applied(client, two):
    tokens, tenant, _ = two
    invoice = sales(client, tokens, tenant, "AUTHORISED")[0]
    assert note(client, tokens, tenant, invoice["InvoiceID"], "Reminder 1 sent").status_code == 200
    credit = {
        "Type": "ACCRECCREDIT",
        "Status": "AUTHORISED",
        "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
        "CurrencyCode": invoice["CurrencyCode"],
        "LineAmountTypes": "NoTax",
        "LineItems": [{"Description": "Early payment", "Quantity": 1, "UnitAmount": "1.00"}],
    }
    made = call(client, tokens, tenant, "CreditNotes", "PUT", json={"CreditNotes": [credit]})
    credit_id = made.json["CreditNotes"][0]["CreditNoteID"]
    allocation = {
        "Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": "1.00"}]
    }
    call(client, tokens, tenant, f"CreditNotes/{credit_id}/Allocations", "PUT", json=allocation)
    lines = [line for entry in writes(client, provider="xero") for line in entry["applied"]]
    number = invoice["InvoiceNumber"]
    assert lines[0] == f"History note on invoice {number}: Reminder 1 sent"
    assert lines[1].startswith("Credit note CN-") and "(AUTHORISED) for 1.00" in lines[1]
    assert lines[2].endswith(f"allocated to invoice {number}")


def test_a_refused_write_is_logged_with_xeros_answer(client, two):
    tokens, tenant, _ = two
    draft = sales(client, tokens, tenant, "DRAFT")[0]
    refused = email(client, tokens, tenant, draft["InvoiceID"], "act-2")
    assert refused.status_code == 400
    message = refused.json["Elements"][0]["ValidationErrors"][0]["Message"]
    assert message.endswith("This invoice is DRAFT.")
    (entry,) = writes(client)
    assert entry["status"] == 400 and entry["applied"] == [] and message in entry["answer"]


def test_a_paid_invoice_can_be_emailed(client, two):
    tokens, tenant, _ = two
    paid = emailable(client, tokens, tenant, "PAID")
    assert email(client, tokens, tenant, paid["InvoiceID"], "act-3").status_code == 204


# ---------------------------------------------------------------- online invoices


def test_online_invoice_leads_to_a_page_that_pays_it(client, two):
    tokens, tenant, _ = two
    invoice = sales(client, tokens, tenant, "AUTHORISED")[0]
    online = call(client, tokens, tenant, f"Invoices/{invoice['InvoiceID']}/OnlineInvoice")
    url = online.json["OnlineInvoices"][0]["OnlineInvoiceUrl"]
    path = f"/_sandbox/pay/xero/{tenant}/{invoice['InvoiceID']}"
    assert url == f"http://localhost{path}"
    assert invoice["InvoiceNumber"] in client.get(path).get_data(as_text=True)
    paid = client.post(path)
    assert paid.status_code == 303
    after = call(client, tokens, tenant, f"Invoices/{invoice['InvoiceID']}").json["Invoices"][0]
    assert (after["Status"], after["AmountDue"]) == ("PAID", 0)
    assert client.post(path).status_code == 400
    draft = sales(client, tokens, tenant, "DRAFT")[0]["InvoiceID"]
    refused = call(client, tokens, tenant, f"Invoices/{draft}/OnlineInvoice")
    assert refused.status_code == 400 and refused.json["Type"] == "ValidationException"
    assert client.get(f"/_sandbox/pay/xero/{tenant}/nope").status_code == 404


# ---------------------------------------------------------------- faults


def test_a_reject_fault_answers_writes_of_one_organisation(client, two):
    tokens, tenant, other = two
    arm(client, kind="reject", tenant=tenant, message="The contact is archived")
    invoice = sales(client, tokens, tenant, "AUTHORISED")[0]  # reads pass
    elsewhere = sales(client, tokens, other, "AUTHORISED")[0]
    assert note(client, tokens, other, elsewhere["InvoiceID"], "fine").status_code == 200
    refused = note(client, tokens, tenant, invoice["InvoiceID"], "nope")
    assert refused.status_code == 400 and refused.json["Type"] == "ValidationException"
    assert refused.json["Elements"][0]["ValidationErrors"] == [
        {"Message": "The contact is archived"}
    ]
    assert note(client, tokens, tenant, invoice["InvoiceID"], "now fine").status_code == 200


def test_a_rate_limit_on_one_path_with_a_long_retry_after(client, two):
    tokens, tenant, _ = two
    invoice = sales(client, tokens, tenant, "AUTHORISED")[0]
    arm(client, kind="rate_limit", paths=["/History"], retry_after=120, count=2)
    assert call(client, tokens, tenant, f"Invoices/{invoice['InvoiceID']}").status_code == 200
    limited = note(client, tokens, tenant, invoice["InvoiceID"], "later")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "120"
    assert note(client, tokens, tenant, invoice["InvoiceID"], "later").status_code == 429
    assert note(client, tokens, tenant, invoice["InvoiceID"], "later").status_code == 200


def test_revoking_one_organisation_removes_its_connection_only(client, two):
    tokens, tenant, other = two
    arm(client, kind="revoke", tenant=tenant)
    refused = call(client, tokens, tenant, "Organisation")
    assert refused.status_code == 403
    assert call(client, tokens, other, "Organisation").status_code == 200
    assert refresh(client, tokens["refresh_token"]).status_code == 200
    client.delete("/_sandbox/faults", query_string={"provider": "xero"})
    assert call(client, tokens, tenant, "Organisation").status_code == 200
