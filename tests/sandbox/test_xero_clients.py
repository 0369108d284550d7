"""What Xero's own SDK and the Singer tap need from the Xero sandbox: /Connections (the identity
OpenAPI's spelling), /Currencies, /Organisations beside /Organisation, and batch payments whose
TotalAmount and IsReconciled are a number and a boolean."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import SandboxConfig
from sandbox import create_app

CLIENT = "sandbox-xero-client"
BASIC = "Basic " + base64.b64encode(b"sandbox-xero-client:sandbox-xero-secret").decode()
REDIRECT = "http://localhost/oauth/xero/callback"
SCOPE = "offline_access accounting.invoices.read accounting.payments.read accounting.settings.read"
API = "/xero/api.xro/2.0"


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def organisations(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/_sandbox/xero/organisations").json["organisations"]


def connect(client: FlaskClient, tenants: list[str], scope: str = SCOPE) -> dict[str, Any]:
    form = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "s",
        "action": "allow",
        "tenant": tenants,
    }
    answer = client.post("/xero/identity/connect/authorize/approve", data=form)
    code = parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]
    token = client.post(
        "/xero/identity/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers={"Authorization": BASIC},
    )
    assert token.status_code == 200, token.data
    return token.json


def bearer(tokens: dict[str, Any], tenant: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    if tenant:
        headers["Xero-Tenant-Id"] = tenant
    return headers


def test_connections_answer_under_both_spellings(client, organisations):
    tokens = connect(client, [o["tenantId"] for o in organisations])
    lower = client.get("/xero/connections", headers=bearer(tokens))
    upper = client.get("/xero/Connections", headers=bearer(tokens))
    assert lower.status_code == upper.status_code == 200
    assert upper.json == lower.json
    assert {c["tenantId"] for c in upper.json} == {o["tenantId"] for o in organisations}
    removed = client.delete(f"/xero/Connections/{upper.json[0]['id']}", headers=bearer(tokens))
    assert removed.status_code == 204
    assert len(client.get("/xero/Connections", headers=bearer(tokens)).json) == 2


def test_currencies_lists_the_base_currency_first_then_the_others(client, organisations):
    tokens = connect(client, [o["tenantId"] for o in organisations])
    for organisation in organisations:
        tenant = organisation["tenantId"]
        answer = client.get(f"{API}/Currencies", headers=bearer(tokens, tenant))
        assert answer.status_code == 200, answer.data
        currencies = answer.json["Currencies"]
        assert currencies[0]["Code"] == organisation["baseCurrency"]
        assert all(set(c) == {"Code", "Description"} for c in currencies)
        assert len({c["Code"] for c in currencies}) == len(currencies) > 1
        invoices = client.get(f"{API}/Invoices", headers=bearer(tokens, tenant)).json["Invoices"]
        assert {i["CurrencyCode"] for i in invoices} <= {c["Code"] for c in currencies}


def test_currencies_need_the_settings_scope(client, organisations):
    tenant = organisations[0]["tenantId"]
    tokens = connect(client, [tenant], scope="offline_access accounting.invoices.read")
    assert client.get(f"{API}/Currencies", headers=bearer(tokens, tenant)).status_code == 401
    assert client.get(f"{API}/currencies", headers=bearer(tokens, tenant)).status_code == 401


def test_organisations_answers_as_organisation_does(client, organisations):
    tenant = organisations[0]["tenantId"]
    tokens = connect(client, [tenant])
    singular = client.get(f"{API}/Organisation", headers=bearer(tokens, tenant))
    plural = client.get(f"{API}/Organisations", headers=bearer(tokens, tenant))
    assert singular.status_code == plural.status_code == 200
    assert plural.json["Organisations"] == singular.json["Organisations"]
    assert plural.json["Organisations"][0]["OrganisationID"] == tenant
    narrow = connect(client, [tenant], scope="offline_access accounting.invoices.read")
    assert client.get(f"{API}/Organisations", headers=bearer(narrow, tenant)).status_code == 401


def test_batch_payments_carry_a_number_and_a_boolean(client, organisations):
    tenants = [o["tenantId"] for o in organisations]
    tokens = connect(client, tenants)
    batched: dict[str, list[dict[str, Any]]] = {}
    for tenant in tenants:
        payments = client.get(f"{API}/Payments", headers=bearer(tokens, tenant)).json["Payments"]
        for payment in payments:
            if "BatchPayment" in payment:
                batched.setdefault(payment["BatchPaymentID"], []).append(payment)
    assert batched
    for payments in batched.values():
        batch = payments[0]["BatchPayment"]
        assert isinstance(batch["IsReconciled"], bool)
        assert isinstance(batch["TotalAmount"], float)
        assert batch["IsReconciled"] == all(p["IsReconciled"] for p in payments)
        total = sum(Decimal(str(p["Amount"])) for p in payments)
        assert Decimal(str(batch["TotalAmount"])) == total
