"""The QuickBooks part of the sandbox: OAuth, query, CDC, writes, limits, faults and webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask import request as flask_request

from sandbox import SandboxConfig
from sandbox import create_app
from sandbox.quickbooks.query import parse
from sandbox.quickbooks.store import Event
from sandbox.quickbooks.webhooks import make_encoder
from tests.servers import free_port
from tests.servers import serve

LARKSPUR = "9341453050010001"
HARBOUR = "9341453050010002"
CLIENT = ("sandbox-intuit-client", "sandbox-intuit-secret")
REDIRECT = "http://localhost:5000/oauth/quickbooks/callback"
SCOPE = "com.intuit.quickbooks.accounting openid email"
CONTROL = "/_sandbox/quickbooks"
ROOT = Path(__file__).resolve().parents[2]


DatedConfig = SandboxConfig


def basic(user: str = CLIENT[0], password: str = CLIENT[1]) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small", webhook_delay_seconds=60))


@pytest.fixture
def client(app):
    return app.test_client()


def authorize(client, realm: str = LARKSPUR, decision: str = "approve"):
    form = {
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "st-123",
        "realm_id": realm,
        "decision": decision,
    }
    return client.post("/qbo/connect/oauth2/approve", data=form)


def connect(client, realm: str = LARKSPUR) -> dict:
    location = authorize(client, realm).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    response = client.post("/qbo/oauth2/v1/tokens/bearer", data=form, headers=basic())
    assert response.status_code == 200, response.data
    return response.json


def refresh(client, refresh_token: str):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return client.post("/qbo/oauth2/v1/tokens/bearer", data=form, headers=basic())


def bearer(token: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}


def qbo(realm: str, path: str) -> str:
    return f"/qbo/v3/company/{realm}/{path}"


def query(client, token: dict, text: str, realm: str = LARKSPUR):
    params = {"query": text, "minorversion": "75"}
    return client.get(qbo(realm, "query"), query_string=params, headers=bearer(token))


def rows(response, entity: str) -> list[dict]:
    assert response.status_code == 200, response.data
    return response.json["QueryResponse"].get(entity, [])


def cdc(
    client, token: dict, since: datetime, entities: str = "Invoice,Payment,Customer,CreditMemo"
):
    params = {"entities": entities, "changedSince": since.isoformat(), "minorversion": "75"}
    return client.get(qbo(LARKSPUR, "cdc"), query_string=params, headers=bearer(token))


def cdc_rows(response) -> dict[str, list[dict]]:
    assert response.status_code == 200, response.data
    found: dict[str, list[dict]] = {}
    for part in response.json["CDCResponse"][0]["QueryResponse"]:
        for key, value in part.items():
            if isinstance(value, list):
                found[key] = value
    return found


def sandbox_now(client) -> datetime:
    return datetime.fromisoformat(client.get(f"{CONTROL}/clock").json["now"])


def open_invoice(client, token: dict) -> dict:
    found = rows(query(client, token, "SELECT * FROM Invoice WHERE Balance > '0'"), "Invoice")
    return next(i for i in found if i["CurrencyRef"]["value"] == "USD")


# ---------------------------------------------------------------- OAuth


def test_consent_page_offers_both_companies(client):
    params = {
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
        "state": "<script>",
    }
    page = client.get("/qbo/connect/oauth2", query_string=params)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert LARKSPUR in html and HARBOUR in html and "Harbour Print Co" in html
    assert "<script>" not in html  # state is escaped


def test_unknown_client_gets_an_error_page(client):
    params = {
        "client_id": "nope",
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPE,
    }
    assert client.get("/qbo/connect/oauth2", query_string=params).status_code == 400


def test_deny_redirects_with_access_denied(client):
    location = authorize(client, decision="deny").headers["Location"]
    params = parse_qs(urlsplit(location).query)
    assert params["error"] == ["access_denied"] and params["state"] == ["st-123"]


def test_code_flow_gives_tokens_and_the_code_is_single_use(client):
    response = authorize(client, HARBOUR)
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["realmId"] == [HARBOUR] and params["state"] == ["st-123"]
    form = {"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT}
    first = client.post("/qbo/oauth2/v1/tokens/bearer", data=form, headers=basic())
    assert first.status_code == 200
    assert first.json["token_type"] == "bearer"
    assert first.json["expires_in"] == 3600
    assert first.json["x_refresh_token_expires_in"] == 8726400
    again = client.post("/qbo/oauth2/v1/tokens/bearer", data=form, headers=basic())
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_token_endpoint_requires_client_credentials(client):
    form = {"grant_type": "refresh_token", "refresh_token": "x"}
    response = client.post("/qbo/oauth2/v1/tokens/bearer", data=form, headers=basic(password="bad"))
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


def test_refresh_rotates_and_the_superseded_token_is_invalid_grant(client):
    token = connect(client)
    renewed = refresh(client, token["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.json["refresh_token"] != token["refresh_token"]
    stale = refresh(client, token["refresh_token"])
    assert stale.status_code == 400 and stale.json["error"] == "invalid_grant"
    assert refresh(client, renewed.json["refresh_token"]).status_code == 200


def test_revoke_kills_access_and_refresh_tokens(client):
    token = connect(client)
    revoked = client.post(
        "/qbo/v2/oauth2/tokens/revoke", json={"token": token["refresh_token"]}, headers=basic()
    )
    assert revoked.status_code == 200
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 401
    assert refresh(client, token["refresh_token"]).json["error"] == "invalid_grant"
    grants = client.get(f"{CONTROL}/grants").json["grants"]
    assert grants[0]["revoked"] is True


# ---------------------------------------------------------------- auth on the API


def test_missing_token_gets_the_lowercase_401_fault(client):
    response = client.get(qbo(LARKSPUR, "preferences"), headers={"Accept": "application/json"})
    assert response.status_code == 401
    error = response.json["fault"]["error"][0]
    assert error["code"] == "3200" and response.json["fault"]["type"] == "AUTHENTICATION"
    assert isinstance(response.json["time"], int)


def test_expired_access_token_is_401_until_refreshed(client):
    token = connect(client)
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 200
    assert client.post(f"{CONTROL}/expire-tokens").json["expired"] >= 1
    expired = client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token))
    assert expired.status_code == 401
    assert "expired" in expired.json["fault"]["error"][0]["detail"]
    renewed = refresh(client, token["refresh_token"]).json
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(renewed)).status_code == 200


def test_tokens_expire_after_an_hour_of_sandbox_time(client):
    token = connect(client)
    client.post(f"{CONTROL}/clock/advance", json={"seconds": 3601})
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 401


def test_a_token_only_opens_its_own_company(client):
    token = connect(client, HARBOUR)
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 403


def test_without_accept_json_the_answer_is_xml(client):
    token = connect(client)
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    response = client.get(qbo(LARKSPUR, "term/3"), headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True).startswith("<?xml")


# ---------------------------------------------------------------- query


def test_paging_by_last_updated_returns_every_invoice_once(client):
    token = connect(client)
    total = query(client, token, "select count(*) from Invoice").json["QueryResponse"]["totalCount"]
    seen, start = [], 1
    while True:
        text = (
            "SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime ASC "
            f"STARTPOSITION {start} MAXRESULTS 40"
        )
        response = query(client, token, text)
        page = rows(response, "Invoice")
        if not page:
            assert response.json["QueryResponse"] == {}
            break
        assert response.json["QueryResponse"]["startPosition"] == start
        assert response.json["QueryResponse"]["maxResults"] == len(page)
        seen.extend(page)
        start += 40
    assert len(seen) == total > 100
    assert len({i["Id"] for i in seen}) == total
    stamps = [datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in seen]
    assert stamps == sorted(stamps)
    assert all(s.utcoffset() is not None for s in stamps)


def test_where_last_updated_time_filters(client):
    token = connect(client)
    everything = rows(query(client, token, "select * from Invoice maxresults 1000"), "Invoice")
    stamps = sorted(datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in everything)
    middle = stamps[len(stamps) // 2]
    text = (
        f"select * from Invoice where Metadata.LastUpdatedTime >= '{middle.isoformat()}' "
        "maxresults 1000"
    )
    newer = rows(query(client, token, text), "Invoice")
    assert newer and len(newer) == sum(1 for s in stamps if s >= middle)
    text = f"select count(*) from Invoice WHERE MetaData.LastUpdatedTime < '{middle.isoformat()}'"
    older = query(client, token, text).json["QueryResponse"]["totalCount"]
    assert older + len(newer) == len(stamps)


def test_customers_are_active_only_unless_asked(client):
    token = connect(client)
    active = query(client, token, "select count(*) from Customer").json["QueryResponse"]
    every = query(client, token, "SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)")
    inactive = rows(query(client, token, "select * from Customer where Active = false"), "Customer")
    assert len(inactive) >= 2
    assert every.json["QueryResponse"]["totalCount"] == active["totalCount"] + len(inactive)
    assert all(c["DisplayName"].endswith("(deleted)") for c in inactive)


def test_id_conditions(client):
    token = connect(client)
    picked = rows(
        query(client, token, "select * from Invoice where Id IN ('7', '9', '100000')"), "Invoice"
    )
    one = rows(query(client, token, "select * from Invoice where Id = '7'"), "Invoice")
    assert {i["Id"] for i in picked} <= {"7", "9"} and one[0]["Id"] == "7"


def test_query_by_post_with_application_text(client):
    token = connect(client)
    headers = {**bearer(token), "Content-Type": "application/text"}
    response = client.post(
        qbo(LARKSPUR, "query"),
        data="select * from Term",
        headers=headers,
        query_string={"minorversion": "75"},
    )
    terms = rows(response, "Term")
    discounted = [t for t in terms if t.get("DiscountPercent")]
    assert discounted[0]["Name"] == "2% 10 Net 30" and discounted[0]["DiscountDays"] == 10


def test_query_errors_are_validation_faults(client):
    token = connect(client)
    broken = query(client, token, "SELEKT * FROM Invoice")
    assert broken.status_code == 400
    assert broken.json["Fault"]["type"] == "ValidationFault"
    assert broken.json["Fault"]["Error"][0]["code"] == "4000"
    assert "QueryParserError" in broken.json["Fault"]["Error"][0]["Detail"]
    unknown = query(client, token, "select * from Custmoer")
    assert unknown.json["Fault"]["Error"][0]["code"] == "4001"


def test_maxresults_is_capped_at_1000(app):
    company = app.extensions["sandbox_quickbooks"].store.companies[LARKSPUR]
    parsed = parse("select * from Invoice startposition 0 maxresults 5000", company)
    assert parsed.limit == 1000 and parsed.start == 1


def test_read_by_id_and_company_info(client):
    token = connect(client)
    invoice = client.get(qbo(LARKSPUR, "invoice/7"), headers=bearer(token)).json["Invoice"]
    assert invoice["Id"] == "7" and "SyncToken" in invoice and "InvoiceLink" not in invoice
    info = client.get(qbo(LARKSPUR, f"companyinfo/{LARKSPUR}"), headers=bearer(token)).json
    assert info["CompanyInfo"]["CompanyName"] == "Larkspur Landscaping"
    missing = client.get(qbo(LARKSPUR, "invoice/999999"), headers=bearer(token))
    assert missing.status_code == 400 and missing.json["Fault"]["Error"][0]["code"] == "610"


def test_foreign_currency_invoices_carry_rates(client):
    token = connect(client, HARBOUR)
    invoices = rows(
        query(client, token, "select * from Invoice maxresults 1000", HARBOUR), "Invoice"
    )
    foreign = [i for i in invoices if i["CurrencyRef"]["value"] != "CAD"]
    assert {i["CurrencyRef"]["value"] for i in foreign} >= {"USD", "GBP"}
    sample = next(i for i in foreign if i["TotalAmt"] > 0)
    assert sample["ExchangeRate"] > 1
    expected = (Decimal(str(sample["TotalAmt"])) * Decimal(str(sample["ExchangeRate"]))).quantize(
        Decimal("0.01")
    )
    assert Decimal(str(sample["HomeTotalAmt"])) == expected


def test_seeded_data_covers_every_age_and_edge_case(client):
    token = connect(client)
    today = date.fromisoformat(client.get(f"{CONTROL}/clock").json["today"])
    invoices = rows(query(client, token, "select * from Invoice maxresults 1000"), "Invoice")
    ages = [(today - date.fromisoformat(i["DueDate"])).days for i in invoices if i["Balance"] > 0]
    for low, high in ((-999, 0), (1, 30), (31, 60), (61, 90), (91, 9999)):
        assert any(low <= age <= high for age in ages), (low, high)
    assert any(0 < i["Balance"] < i["TotalAmt"] for i in invoices)  # partly paid
    voided = [i for i in invoices if i.get("PrivateNote", "").startswith("Voided")]
    assert voided and all(i["TotalAmt"] == 0 and i["Balance"] == 0 for i in voided)
    payments = rows(query(client, token, "select * from Payment maxresults 1000"), "Payment")
    assert any(len(p["Line"]) > 1 for p in payments)  # one payment, several invoices
    linked = {t["LinkedTxn"][0]["TxnType"] for p in payments for t in p["Line"]}
    assert linked == {"Invoice", "CreditMemo"}
    memos = rows(query(client, token, "select * from CreditMemo"), "CreditMemo")
    assert any(m["Balance"] == 0 for m in memos) and any(m["Balance"] > 0 for m in memos)
    assert any(i.get("SalesTermRef", {}).get("value") == "5" for i in invoices)
    assert any(i["EmailStatus"] == "EmailSent" and "DeliveryInfo" in i for i in invoices)


def test_seeded_books_add_up(client):
    """Every payment line is reflected in the balance of what it links, and nothing else is."""
    token = connect(client, HARBOUR)
    everything = {
        kind: rows(query(client, token, f"select * from {kind} maxresults 1000", HARBOUR), kind)
        for kind in ("Invoice", "CreditMemo", "Payment")
    }
    applied: dict[tuple[str, str], Decimal] = {}
    for payment in everything["Payment"]:
        net = Decimal("0")
        for line in payment["Line"]:
            link = line["LinkedTxn"][0]
            key = (link["TxnType"], link["TxnId"])
            amount = Decimal(str(line["Amount"]))
            applied[key] = applied.get(key, Decimal("0")) + amount
            net += amount if link["TxnType"] == "Invoice" else -amount
        unapplied = Decimal(str(payment["TotalAmt"])) - net
        assert Decimal(str(payment["UnappliedAmt"])) == unapplied >= 0
    for kind in ("Invoice", "CreditMemo"):
        for txn in everything[kind]:
            paid = Decimal(str(txn["TotalAmt"])) - Decimal(str(txn["Balance"]))
            assert paid == applied.get((kind, txn["Id"]), Decimal("0")), (kind, txn["Id"])


def test_same_seed_and_day_give_the_same_data():
    day = date(2026, 3, 15)
    first = create_app(DatedConfig(size="small", seed=3, today=day)).test_client()
    second = create_app(DatedConfig(size="small", seed=3, today=day)).test_client()
    other = create_app(DatedConfig(size="small", seed=4, today=day)).test_client()
    summary = first.get(f"{CONTROL}/{LARKSPUR}/summary").json
    assert summary == second.get(f"{CONTROL}/{LARKSPUR}/summary").json
    assert summary != other.get(f"{CONTROL}/{LARKSPUR}/summary").json
    assert first.get(f"{CONTROL}/clock").json["today"] == "2026-03-15"


# ---------------------------------------------------------------- CDC


def test_cdc_returns_changes_with_deleted_stubs(client):
    token = connect(client)
    since = sandbox_now(client) - timedelta(days=29)
    found = cdc_rows(cdc(client, token, since))
    deleted = [i for i in found["Invoice"] if i.get("status") == "Deleted"]
    assert deleted and set(deleted[0]) == {"domain", "status", "Id", "MetaData"}
    assert any(c.get("status") == "Deleted" for c in found["Customer"])  # the merged customer
    for entity_rows in found.values():
        for row in entity_rows:
            assert datetime.fromisoformat(row["MetaData"]["LastUpdatedTime"]) >= since


def test_cdc_refuses_more_than_30_days(client):
    token = connect(client)
    response = cdc(client, token, sandbox_now(client) - timedelta(days=31))
    assert response.status_code == 400 and "Fault" in response.json


def test_cdc_stops_at_1000_objects_oldest_first(client):
    token = connect(client)
    customer = rows(query(client, token, "select * from Customer"), "Customer")[0]["Id"]
    since = sandbox_now(client)
    created = set()
    for number in range(1001):
        if number == 500:
            # CDC takes whole seconds; split the burst so re-reading from a second can page.
            client.post(f"{CONTROL}/clock/advance", json={"seconds": 2})
        body = {"customer_id": customer, "amount": "10.00"}
        answer = client.post(f"{CONTROL}/{LARKSPUR}/invoices", json=body)
        assert answer.status_code == 200
        created.add(answer.json["Invoice"]["Id"])
    first = cdc_rows(cdc(client, token, since, "Invoice,Customer"))
    assert sum(len(v) for v in first.values()) == 1000
    stamps = [datetime.fromisoformat(i["MetaData"]["LastUpdatedTime"]) for i in first["Invoice"]]
    assert stamps == sorted(stamps)
    # Re-reading from the newest time seen brings back whatever the cap left out.
    rest = cdc_rows(cdc(client, token, max(stamps), "Invoice"))["Invoice"]
    seen = {i["Id"] for i in first["Invoice"]} | {i["Id"] for i in rest}
    assert created <= seen


# ---------------------------------------------------------------- writes


def test_sparse_update_bumps_sync_token_and_rejects_stale_ones(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    body = {
        "Id": invoice["Id"],
        "SyncToken": invoice["SyncToken"],
        "sparse": True,
        "PrivateNote": "Reminder 1",
    }
    updated = client.post(qbo(LARKSPUR, "invoice"), json=body, headers=bearer(token))
    assert updated.status_code == 200
    fresh = updated.json["Invoice"]
    assert fresh["PrivateNote"] == "Reminder 1"
    assert int(fresh["SyncToken"]) == int(invoice["SyncToken"]) + 1
    assert fresh["Line"] == invoice["Line"] and fresh["Balance"] == invoice["Balance"]
    assert fresh["MetaData"]["LastUpdatedTime"] >= invoice["MetaData"]["LastUpdatedTime"]
    stale = client.post(qbo(LARKSPUR, "invoice"), json=body, headers=bearer(token))
    assert stale.status_code == 400
    assert stale.json["Fault"]["Error"][0]["code"] == "5010"


def test_unknown_fields_are_refused(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    body = {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"], "sparse": True, "BadJson": 1}
    response = client.post(qbo(LARKSPUR, "invoice"), json=body, headers=bearer(token))
    assert response.status_code == 400 and response.json["Fault"]["Error"][0]["code"] == "2010"


def test_discount_line_lowers_total_and_balance(client):
    token = connect(client)
    invoice = next(
        i
        for i in rows(query(client, token, "select * from Invoice maxresults 1000"), "Invoice")
        if i["Balance"] == i["TotalAmt"] > 0
    )
    lines = [line for line in invoice["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    discount = {"DetailType": "DiscountLineDetail", "Amount": 0,
                "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 2}}  # fmt: skip
    body = {
        "Id": invoice["Id"],
        "SyncToken": invoice["SyncToken"],
        "sparse": True,
        "Line": [*lines, discount],
    }
    fresh = client.post(qbo(LARKSPUR, "invoice"), json=body, headers=bearer(token)).json["Invoice"]
    cut = (Decimal(str(invoice["TotalAmt"])) * Decimal("0.02")).quantize(Decimal("0.01"))
    assert Decimal(str(fresh["TotalAmt"])) == Decimal(str(invoice["TotalAmt"])) - cut
    assert fresh["Balance"] == fresh["TotalAmt"]


def test_customer_update_and_duplicate_name(client):
    token = connect(client)
    customers = rows(query(client, token, "select * from Customer"), "Customer")
    first, second = customers[0], customers[1]
    body = {
        "Id": first["Id"],
        "SyncToken": first["SyncToken"],
        "sparse": True,
        "Notes": "[CREDIT HOLD]",
    }
    updated = client.post(qbo(LARKSPUR, "customer"), json=body, headers=bearer(token)).json[
        "Customer"
    ]
    assert updated["Notes"] == "[CREDIT HOLD]" and updated["DisplayName"] == first["DisplayName"]
    clash = {
        "Id": second["Id"],
        "SyncToken": second["SyncToken"],
        "sparse": True,
        "DisplayName": first["DisplayName"],
    }
    response = client.post(qbo(LARKSPUR, "customer"), json=clash, headers=bearer(token))
    assert response.json["Fault"]["Error"][0]["code"] == "6240"


def test_send_invoice_marks_it_sent(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    headers = {**bearer(token), "Content-Type": "application/octet-stream"}
    params = {"sendTo": "ap@customer.example", "minorversion": "75"}
    sent = client.post(
        qbo(LARKSPUR, f"invoice/{invoice['Id']}/send"), headers=headers, query_string=params
    )
    assert sent.status_code == 200
    fresh = sent.json["Invoice"]
    assert fresh["EmailStatus"] == "EmailSent" and fresh["DeliveryInfo"]["DeliveryType"] == "Email"
    assert fresh["BillEmail"]["Address"] == "ap@customer.example"
    emails = client.get(f"{CONTROL}/{LARKSPUR}/emails").json["emails"]
    assert emails[-1]["invoice_id"] == invoice["Id"]


def test_payment_with_credit_memo_applies_both(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    customer = invoice["CustomerRef"]["value"]
    memo_body = {
        "CustomerRef": {"value": customer},
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": "5.00", "SalesItemLineDetail": {}}
        ],
    }
    memo = client.post(qbo(LARKSPUR, "creditmemo"), json=memo_body, headers=bearer(token)).json[
        "CreditMemo"
    ]
    assert memo["Balance"] == 5.0
    balance = Decimal(str(invoice["Balance"]))
    payment_body = {
        "CustomerRef": {"value": customer},
        "TotalAmt": str(balance - Decimal("5.00")),
        "Line": [
            {"Amount": str(balance), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
            {"Amount": "5.00", "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]},
        ],
    }
    paid = client.post(qbo(LARKSPUR, "payment"), json=payment_body, headers=bearer(token))
    assert paid.status_code == 200, paid.data
    assert paid.json["Payment"]["UnappliedAmt"] == 0
    after = client.get(qbo(LARKSPUR, f"invoice/{invoice['Id']}"), headers=bearer(token)).json[
        "Invoice"
    ]
    assert after["Balance"] == 0
    assert {"TxnId": paid.json["Payment"]["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
    memo_after = client.get(qbo(LARKSPUR, f"creditmemo/{memo['Id']}"), headers=bearer(token)).json
    assert memo_after["CreditMemo"]["Balance"] == 0


def test_overpaying_an_invoice_line_is_refused(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    too_much = str(Decimal(str(invoice["Balance"])) + 1)
    body = {
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": too_much,
        "Line": [
            {"Amount": too_much, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
        ],
    }
    response = client.post(qbo(LARKSPUR, "payment"), json=body, headers=bearer(token))
    assert response.status_code == 400 and response.json["Fault"]["Error"][0]["code"] == "6000"


def test_requestid_replays_the_original_response(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    body = {
        "CustomerRef": invoice["CustomerRef"],
        "TotalAmt": "1.00",
        "Line": [{"Amount": "1.00", "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    params = {"requestid": "outbox-42", "minorversion": "75"}
    first = client.post(
        qbo(LARKSPUR, "payment"), json=body, headers=bearer(token), query_string=params
    )
    second = client.post(
        qbo(LARKSPUR, "payment"), json=body, headers=bearer(token), query_string=params
    )
    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    after = client.get(qbo(LARKSPUR, f"invoice/{invoice['Id']}"), headers=bearer(token)).json[
        "Invoice"
    ]
    assert Decimal(str(after["Balance"])) == Decimal(str(invoice["Balance"])) - 1
    other = client.get(qbo(HARBOUR, "preferences"), headers=bearer(token))
    assert other.status_code == 403  # requestids are per company; tokens too


def test_void_and_delete_operations_through_the_api(client):
    token = connect(client)
    invoices = rows(query(client, token, "select * from Invoice where Balance > '0'"), "Invoice")
    first, second = invoices[0], invoices[1]
    body = {"Id": first["Id"], "SyncToken": first["SyncToken"]}
    voided = client.post(
        qbo(LARKSPUR, "invoice"),
        json=body,
        headers=bearer(token),
        query_string={"operation": "void"},
    )
    assert (
        voided.json["Invoice"]["TotalAmt"] == 0
        and "Voided" in voided.json["Invoice"]["PrivateNote"]
    )
    body = {"Id": second["Id"], "SyncToken": second["SyncToken"]}
    gone = client.post(
        qbo(LARKSPUR, "invoice"),
        json=body,
        headers=bearer(token),
        query_string={"operation": "delete"},
    )
    assert gone.json["Invoice"]["status"] == "Deleted"
    assert (
        client.get(qbo(LARKSPUR, f"invoice/{second['Id']}"), headers=bearer(token)).status_code
        == 400
    )


# ---------------------------------------------------------------- limits and faults


def arm(client, kind: str, count: int = 1, seconds: float = 0.0) -> None:
    spec = {"provider": "quickbooks", "kind": kind, "count": count, "seconds": seconds}
    assert client.post("/_sandbox/faults", json=spec).status_code == 200


def test_rate_limit_fault_is_a_429_in_xml(client):
    token = connect(client)
    arm(client, "rate_limit")
    response = client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token))
    assert response.status_code == 429
    assert response.mimetype == "application/xml"
    text = response.get_data(as_text=True)
    assert (
        'code="3001"' in text
        and "message=ThrottleExceeded; errorCode=003001; statusCode=429" in text
    )
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 200


def test_server_error_and_slow_faults(client):
    token = connect(client)
    arm(client, "server_error")
    failed = client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token))
    assert failed.status_code == 503 and failed.json["Fault"]["type"] == "SystemFault"
    arm(client, "slow", seconds=0.3)
    started = time.monotonic()
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_revoke_fault_invalidates_every_token(client):
    token = connect(client)
    arm(client, "revoke")
    assert client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code == 401
    assert refresh(client, token["refresh_token"]).json["error"] == "invalid_grant"


def test_per_minute_throttle(client):
    token = connect(client)
    assert client.post(f"{CONTROL}/limits", json={"per_minute": 3}).json["per_minute"] == 3
    statuses = [
        client.get(qbo(LARKSPUR, "preferences"), headers=bearer(token)).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    harbour = connect(client, HARBOUR)
    assert client.get(qbo(HARBOUR, "preferences"), headers=bearer(harbour)).status_code == 200


def test_ten_requests_in_flight_at_most():
    config = SandboxConfig(size="small", webhook_delay_seconds=60)
    app = create_app(config)
    client = app.test_client()
    token = connect(client)
    arm(client, "slow", count=30, seconds=0.8)
    with serve(app) as url:
        from concurrent.futures import ThreadPoolExecutor

        def call(_: int) -> int:
            return requests.get(
                f"{url}{qbo(LARKSPUR, 'preferences')}", headers=bearer(token), timeout=10
            ).status_code

        with ThreadPoolExecutor(max_workers=14) as pool:
            statuses = list(pool.map(call, range(14)))
    assert statuses.count(200) == 10 and statuses.count(429) == 4


def test_request_log_records_minorversion_and_requestid(client):
    token = connect(client)
    client.get(
        qbo(LARKSPUR, "query"),
        query_string={"query": "select * from Term", "minorversion": "75", "requestid": "abc"},
        headers=bearer(token),
    )
    logged = client.get(f"{CONTROL}/requests", query_string={"limit": 1}).json["requests"][0]
    assert logged["minorversion"] == "75" and logged["requestid"] == "abc"
    assert logged["status"] == 200 and logged["headers"]["Accept"] == "application/json"
    assert token["access_token"] not in json.dumps(logged)


# ---------------------------------------------------------------- control API and webhooks


def test_control_payment_changes_balances(client):
    token = connect(client)
    invoice = open_invoice(client, token)
    before = client.get(f"{CONTROL}/{LARKSPUR}/summary").json
    paid = client.post(
        f"{CONTROL}/{LARKSPUR}/payments", json={"invoice_id": invoice["Id"], "amount": "1.50"}
    )
    assert paid.status_code == 200 and paid.json["Payment"]["TotalAmt"] == 1.5
    after_invoice = client.get(
        qbo(LARKSPUR, f"invoice/{invoice['Id']}"), headers=bearer(token)
    ).json["Invoice"]
    assert Decimal(str(after_invoice["Balance"])) == Decimal(str(invoice["Balance"])) - Decimal(
        "1.50"
    )
    rest = client.post(f"{CONTROL}/{LARKSPUR}/payments", json={"invoice_id": invoice["Id"]})
    assert Decimal(str(rest.json["Payment"]["TotalAmt"])) == Decimal(str(after_invoice["Balance"]))
    after = client.get(f"{CONTROL}/{LARKSPUR}/summary").json
    drop = Decimal(before["open_balance"]["USD"]) - Decimal(after["open_balance"]["USD"])
    assert drop == Decimal(str(invoice["Balance"]))
    assert after["payments"] == before["payments"] + 2
    assert after["open_invoices"] == before["open_invoices"] - 1


def test_control_rejects_bad_input(client):
    assert client.post(f"{CONTROL}/{LARKSPUR}/payments", json={}).status_code == 400
    bad = client.post(f"{CONTROL}/{LARKSPUR}/invoices", json={"customer_id": "1", "amount": "abc"})
    assert bad.status_code == 400 and "amount" in bad.json["error"]
    assert client.post(f"{CONTROL}/{LARKSPUR}/invoices/999999/void").status_code == 404
    assert client.get(f"{CONTROL}/123/summary").status_code == 404


def test_control_void_delete_and_merge_show_in_summary_and_cdc(client):
    token = connect(client)
    since = sandbox_now(client) - timedelta(seconds=1)
    before = client.get(f"{CONTROL}/{LARKSPUR}/summary").json
    invoices = rows(query(client, token, "select * from Invoice where Balance > '0'"), "Invoice")
    assert client.post(f"{CONTROL}/{LARKSPUR}/invoices/{invoices[0]['Id']}/void").status_code == 200
    assert (
        client.post(f"{CONTROL}/{LARKSPUR}/invoices/{invoices[1]['Id']}/delete").status_code == 200
    )
    customers = rows(query(client, token, "select * from Customer"), "Customer")
    source, target = [c for c in customers if c["Balance"] > 0][:2]
    merged = client.post(
        f"{CONTROL}/{LARKSPUR}/customers/merge", json={"from": source["Id"], "into": target["Id"]}
    )
    assert merged.status_code == 200
    after = client.get(f"{CONTROL}/{LARKSPUR}/summary").json
    assert after["voided_invoices"] == before["voided_invoices"] + 1
    assert after["deleted"]["Invoice"] == before["deleted"]["Invoice"] + 1
    assert after["customers"]["total"] == before["customers"]["total"] - 1
    found = cdc_rows(cdc(client, token, since))
    assert {"domain": "QBO", "status": "Deleted", "Id": source["Id"]}.items() <= next(
        c for c in found["Customer"] if c["Id"] == source["Id"]
    ).items()
    moved = [i for i in found["Invoice"] if i.get("CustomerRef", {}).get("value") == target["Id"]]
    assert moved


class Catcher:
    """A local webhook receiver: keeps every delivery's headers and raw body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.app = Flask("catcher")
        self.app.add_url_rule("/webhooks/quickbooks", "hook", self.hook, methods=["POST"])

    def hook(self):
        self.received.append((dict(flask_request.headers), flask_request.get_data()))
        return ""


def signed_ok(verifier: str, headers: dict[str, str], body: bytes) -> bool:
    digest = hmac.new(verifier.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), headers["Intuit-Signature"])


def test_changes_fire_signed_cloudevents():
    catcher = Catcher()
    with serve(catcher.app) as hook_base:
        config = SandboxConfig(
            size="small",
            intuit_webhook_url=f"{hook_base}/webhooks/quickbooks",
            webhook_delay_seconds=60,
        )
        client = create_app(config).test_client()
        token = connect(client)
        invoice = open_invoice(client, token)
        client.post(f"{CONTROL}/{LARKSPUR}/payments", json={"invoice_id": invoice["Id"]})
        client.post(f"{CONTROL}/{HARBOUR}/invoices/{_first_invoice(client, HARBOUR)}/void")
        client.post("/_sandbox/webhooks/flush")
    assert len(catcher.received) == 1
    headers, body = catcher.received[0]
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert signed_ok(config.intuit_webhook_verifier, headers, body)
    events = json.loads(body)
    types = {(e["type"], e["intuitaccountid"]) for e in events}
    assert ("qbo.payment.created.v1", LARKSPUR) in types
    assert ("qbo.invoice.updated.v1", LARKSPUR) in types
    assert ("qbo.invoice.voided.v1", HARBOUR) in types
    assert all(e["specversion"] == "1.0" and e["id"] and e["time"].endswith("Z") for e in events)


def _first_invoice(client, realm: str) -> str:
    token = connect(client, realm)
    return rows(
        query(client, token, "select * from Invoice where Balance > '0'", realm), "Invoice"
    )[0]["Id"]


def test_classic_payload_groups_realms_and_carries_merge_deleted_id():
    encode = make_encoder("verifier", cloudevents=False)
    when = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)
    body, headers = encode(
        [
            Event(LARKSPUR, "Invoice", "130", "Update", when),
            Event(HARBOUR, "Customer", "58", "Merge", when, deleted_id="59"),
            Event(LARKSPUR, "Payment", "131", "Create", when),
        ]
    )
    assert headers["Content-Type"] == "application/json"
    assert signed_ok("verifier", {"Intuit-Signature": headers["intuit-signature"]}, body)
    notifications = json.loads(body)["eventNotifications"]
    assert [n["realmId"] for n in notifications] == [LARKSPUR, HARBOUR]
    assert notifications[0]["dataChangeEvent"]["entities"][0] == {
        "name": "Invoice",
        "id": "130",
        "operation": "Update",
        "lastUpdated": "2026-05-01T17:00:00.000Z",
    }
    assert notifications[1]["dataChangeEvent"]["entities"][0]["deletedId"] == "59"


# ---------------------------------------------------------------- the real server


def test_python_dash_m_sandbox_serves_quickbooks():
    port = free_port()
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--size", "small"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                companies = requests.get(f"{base}{CONTROL}/companies", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "sandbox did not start"
                time.sleep(0.2)
        assert {c["realm_id"] for c in companies.json()["companies"]} == {LARKSPUR, HARBOUR}
        unauthorised = requests.get(f"{base}{qbo(LARKSPUR, 'preferences')}", timeout=5)
        assert unauthorised.status_code == 401
        params = {
            "client_id": CLIENT[0],
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": SCOPE,
        }
        assert (
            requests.get(f"{base}/qbo/connect/oauth2", params=params, timeout=5).status_code == 200
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
