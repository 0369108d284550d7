"""What Intuit's own clients and the Singer tap need from the QuickBooks sandbox, as Intuit
publishes it: the OpenID discovery document, client credentials in the token request's body
(client_secret_post), the /batch endpoint's queries, and queries and CDC over every entity
QuickBooks has (empty for those the sandbox holds none of)."""

from __future__ import annotations

import base64
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from flask import Flask

from sandbox import SandboxConfig
from sandbox import create_app

LARKSPUR = "9341453050010001"
CLIENT = ("sandbox-intuit-client", "sandbox-intuit-secret")
REDIRECT = "http://localhost:5000/oauth/quickbooks/callback"
TOKENS = "/qbo/oauth2/v1/tokens/bearer"
BATCH = f"/qbo/v3/company/{LARKSPUR}/batch"
PUBLISHED_FIELDS = {
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "revocation_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "scopes_supported",
    "token_endpoint_auth_methods_supported",
    "claims_supported",
}


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small", webhook_delay_seconds=60))


@pytest.fixture
def client(app):
    return app.test_client()


def basic(secret: str = CLIENT[1]) -> dict[str, str]:
    raw = base64.b64encode(f"{CLIENT[0]}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def code_for(client) -> str:
    form = {
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "scope": "com.intuit.quickbooks.accounting",
        "state": "s",
        "realm_id": LARKSPUR,
        "decision": "approve",
    }
    location = client.post("/qbo/connect/oauth2/approve", data=form).headers["Location"]
    return parse_qs(urlsplit(location).query)["code"][0]


def token_for(client) -> dict:
    form = {"grant_type": "authorization_code", "code": code_for(client), "redirect_uri": REDIRECT}
    answer = client.post(TOKENS, data=form, headers=basic())
    assert answer.status_code == 200, answer.data
    return answer.json


def batch(client, token: dict, body) -> object:
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    return client.post(BATCH, json=body, headers=headers)


def query(client, token: dict, text: str) -> dict:
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    answer = client.get(
        f"/qbo/v3/company/{LARKSPUR}/query", query_string={"query": text}, headers=headers
    )
    return answer.json["QueryResponse"]


# ---------------------------------------------------------------- discovery


@pytest.mark.parametrize(
    "path",
    [
        "/qbo/.well-known/openid_configuration/",
        "/qbo/.well-known/openid_configuration",
        "/qbo/.well-known/openid_sandbox_configuration/",
    ],
)
def test_discovery_document_at_intuits_published_paths(client, path):
    answer = client.get(path, base_url="http://sandbox.test:8765")
    assert answer.status_code == 200
    document = answer.json
    assert set(document) == PUBLISHED_FIELDS
    base = "http://sandbox.test:8765/qbo"
    assert document["authorization_endpoint"] == f"{base}/connect/oauth2"
    assert document["token_endpoint"] == f"{base}/oauth2/v1/tokens/bearer"
    assert document["revocation_endpoint"] == f"{base}/v2/oauth2/tokens/revoke"
    assert document["issuer"] == f"{base}/op/v1"
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_post",
        "client_secret_basic",
    ]


def test_discovered_endpoints_are_the_ones_served(client):
    document = client.get("/qbo/.well-known/openid_configuration/").json
    consent = urlsplit(document["authorization_endpoint"]).path
    params = {
        "client_id": CLIENT[0],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "com.intuit.quickbooks.accounting",
    }
    assert client.get(consent, query_string=params).status_code == 200
    form = {"grant_type": "authorization_code", "code": code_for(client), "redirect_uri": REDIRECT}
    token_path = urlsplit(document["token_endpoint"]).path
    assert client.post(token_path, data=form, headers=basic()).status_code == 200


# ---------------------------------------------------------------- client_secret_post


def test_token_endpoint_takes_client_credentials_in_the_body(client):
    form = {
        "grant_type": "authorization_code",
        "code": code_for(client),
        "redirect_uri": REDIRECT,
        "client_id": CLIENT[0],
        "client_secret": CLIENT[1],
    }
    issued = client.post(TOKENS, data=form)
    assert issued.status_code == 200, issued.data
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": issued.json["refresh_token"],
        "client_id": CLIENT[0],
        "client_secret": CLIENT[1],
    }
    assert client.post(TOKENS, data=refresh).status_code == 200


def test_wrong_or_missing_client_credentials_are_refused(client):
    refresh_token = token_for(client)["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    wrong = client.post(TOKENS, data={**form, "client_id": CLIENT[0], "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_client"
    assert client.post(TOKENS, data={**form, "client_id": CLIENT[0]}).status_code == 401
    assert client.post(TOKENS, data=form).status_code == 401
    # One method per request: a Basic header is checked on its own, whatever the body says.
    both = {**form, "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    assert client.post(TOKENS, data=both, headers=basic("nope")).status_code == 401


def test_revocation_still_needs_basic_authentication(client):
    token = token_for(client)
    body = {"token": token["refresh_token"], "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    assert client.post("/qbo/v2/oauth2/tokens/revoke", data=body).status_code == 401


# ---------------------------------------------------------------- batch


def test_batch_answers_each_query_under_its_bid_as_query_would(client):
    token = token_for(client)
    invoices = "SELECT * FROM Invoice WHERE Metadata.LastUpdatedTime >= '2000-01-01' MAXRESULTS 5"
    customers = "SELECT * FROM Customer WHERE Active IN (true, false)"
    count = "SELECT COUNT(*) FROM Payment"
    items = [
        {"bId": "invoices", "Query": invoices},
        {"bId": "customers", "Query": customers},
        {"bId": "count", "Query": count},
    ]
    answer = batch(client, token, {"BatchItemRequest": items})
    assert answer.status_code == 200, answer.data
    assert "time" in answer.json
    responses = answer.json["BatchItemResponse"]
    assert [r["bId"] for r in responses] == ["invoices", "customers", "count"]
    assert responses[0]["QueryResponse"] == query(client, token, invoices)
    assert responses[1]["QueryResponse"] == query(client, token, customers)
    assert responses[2]["QueryResponse"] == query(client, token, count)
    assert len(responses[0]["QueryResponse"]["Invoice"]) == 5


def test_batch_page_past_the_end_is_empty(client):
    token = token_for(client)
    items = [{"bId": "late", "Query": "SELECT * FROM Invoice STARTPOSITION 100000 MAXRESULTS 10"}]
    answer = batch(client, token, {"BatchItemRequest": items})
    assert answer.json["BatchItemResponse"] == [{"QueryResponse": {}, "bId": "late"}]


def test_a_failing_item_gets_its_own_fault_and_the_rest_go_on(client):
    token = token_for(client)
    items = [
        {"bId": "bad", "Query": "SELECT * FROM Custmoer"},
        {"bId": "garbled", "Query": "SELEC nothing"},
        {"bId": "good", "Query": "SELECT COUNT(*) FROM Invoice"},
        {"Query": "SELECT COUNT(*) FROM Invoice"},
    ]
    answer = batch(client, token, {"BatchItemRequest": items})
    assert answer.status_code == 200
    bad, garbled, good, nameless = answer.json["BatchItemResponse"]
    assert bad["bId"] == "bad" and bad["Fault"]["type"] == "ValidationFault"
    assert bad["Fault"]["Error"][0]["code"] == "4001"
    assert "Custmoer" in bad["Fault"]["Error"][0]["Detail"]
    assert garbled["Fault"]["Error"][0]["code"] == "4000"
    assert good["QueryResponse"]["totalCount"] > 0
    assert "bId" not in nameless and "bId" in nameless["Fault"]["Error"][0]["Detail"]


def test_batch_writes_are_refused_item_by_item_and_nothing_changes(client):
    token = token_for(client)
    before = query(client, token, "SELECT COUNT(*) FROM Customer")["totalCount"]
    items = [
        {"bId": "new", "operation": "create", "Customer": {"DisplayName": "Batch Buyer"}},
        {"bId": "count", "Query": "SELECT COUNT(*) FROM Customer"},
    ]
    answer = batch(client, token, {"BatchItemRequest": items})
    refused, counted = answer.json["BatchItemResponse"]
    assert refused["bId"] == "new"
    assert refused["Fault"]["Error"][0]["Message"] == "Unsupported Operation"
    assert counted["QueryResponse"]["totalCount"] == before
    writes = client.get("/_sandbox/writes", query_string={"provider": "quickbooks"}).json
    assert writes == {"writes": []}


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"BatchItemRequest": []},
        {"BatchItemRequest": "SELECT * FROM Invoice"},
        {"BatchItemRequest": [{"bId": str(n), "Query": "SELECT * FROM Term"} for n in range(31)]},
    ],
)
def test_a_batch_that_is_not_a_list_of_at_most_30_items_is_a_400(client, body):
    answer = batch(client, token_for(client), body)
    assert answer.status_code == 400
    assert "BatchItemRequest" in answer.json["Fault"]["Error"][0]["Detail"]


def test_batch_needs_a_token(client):
    body = {"BatchItemRequest": [{"bId": "a", "Query": "SELECT * FROM Term"}]}
    assert client.post(BATCH, json=body, headers={"Accept": "application/json"}).status_code == 401


def test_forty_batches_a_minute_per_company(client):
    token = token_for(client)
    body = {"BatchItemRequest": [{"bId": "a", "Query": "SELECT COUNT(*) FROM Term"}]}
    assert all(batch(client, token, body).status_code == 200 for _ in range(40))
    throttled = batch(client, token, body)
    assert throttled.status_code == 429
    assert b"ThrottleExceeded" in throttled.data
    single = query(client, token, "SELECT COUNT(*) FROM Term")
    assert single["totalCount"] > 0


# ---------------------------------------------------------------- entities held nowhere here


def test_entities_the_sandbox_holds_none_of_answer_empty(client):
    token = token_for(client)
    accounts = (
        "SELECT * FROM Account WHERE Metadata.LastUpdatedTime >= '2000-01-01' "
        "AND Active IN (true, false) ORDER BY Metadata.LastUpdatedTime ASC "
        "STARTPOSITION 1 MAXRESULTS 1000"
    )
    assert query(client, token, accounts) == {}
    assert query(client, token, "SELECT COUNT(*) FROM Vendor") == {"totalCount": 0}
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    garbled = client.get(
        f"/qbo/v3/company/{LARKSPUR}/query",
        query_string={"query": "SELECT * FROM Item WHERE Name ~ 'x'"},
        headers=headers,
    )
    assert garbled.status_code == 400 and garbled.json["Fault"]["Error"][0]["code"] == "4000"


def test_cdc_takes_every_entity_quickbooks_tracks(client):
    token = token_for(client)
    headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    now = client.get("/_sandbox/quickbooks/clock").json["now"]
    since = (datetime.fromisoformat(now) - timedelta(days=29)).isoformat()
    cdc = f"/qbo/v3/company/{LARKSPUR}/cdc"
    wanted = {"entities": "Account,Invoice,Vendor", "changedSince": since}
    answer = client.get(cdc, query_string=wanted, headers=headers)
    assert answer.status_code == 200, answer.data
    account, invoices, vendor = answer.json["CDCResponse"][0]["QueryResponse"]
    assert account == {} and vendor == {}
    assert invoices["Invoice"]
    for untracked in ("TaxCode", "TimeActivity", "Custmoer"):
        refused = client.get(
            cdc, query_string={"entities": untracked, "changedSince": since}, headers=headers
        )
        assert refused.status_code == 400
        assert untracked in refused.json["Fault"]["Error"][0]["Detail"]
