"""The Xero sandbox over HTTP: consent, tokens, /connections, the Accounting API's reads and
writes, limits and faults, webhooks and the control API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlparse

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from sandbox import SandboxConfig
from sandbox import create_app
from sandbox import xero
from sandbox.faults import Faults
from sandbox.webhooks import WebhookSender
from sandbox.xero import get_sandbox

CLIENT = "sandbox-xero-client"
BASIC = "Basic " + base64.b64encode(b"sandbox-xero-client:sandbox-xero-secret").decode()
REDIRECT = "http://localhost/oauth/xero/callback"
SCOPE = (
    "offline_access openid profile email accounting.invoices accounting.payments "
    "accounting.contacts accounting.settings.read"
)
API = "/xero/api.xro/2.0"


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(size="small"))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tenants(client: FlaskClient) -> list[str]:
    return [o["tenantId"] for o in client.get("/_sandbox/xero/organisations").json["organisations"]]


def consent(client: FlaskClient, chosen: list[str], scope: str = SCOPE) -> str:
    """Runs the consent page and returns the authorisation code from the callback."""
    page = client.get(
        "/xero/identity/connect/authorize",
        query_string={
            "response_type": "code",
            "client_id": CLIENT,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": "st4te",
        },
    )
    assert page.status_code == 200 and b"Kiwi Kitchens Ltd" in page.data
    form = {
        "client_id": CLIENT,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st4te",
        "action": "allow",
        "tenant": chosen,
    }
    answer = client.post("/xero/identity/connect/authorize/approve", data=form)
    assert answer.status_code == 302
    query = parse_qs(urlparse(answer.headers["Location"]).query)
    assert query["state"] == ["st4te"] and "tenantId" not in query
    return query["code"][0]


def token_call(client: FlaskClient, **form: str) -> Any:
    return client.post("/xero/identity/connect/token", data=form, headers={"Authorization": BASIC})


def connect(client: FlaskClient, chosen: list[str], scope: str = SCOPE) -> dict[str, Any]:
    code = consent(client, chosen, scope)
    answer = token_call(client, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert answer.status_code == 200, answer.data
    return answer.json


def refresh(client: FlaskClient, refresh_token: str) -> Any:
    return token_call(client, grant_type="refresh_token", refresh_token=refresh_token)


def call(
    client: FlaskClient,
    tokens: dict[str, Any],
    tenant: str | None,
    path: str,
    method: str = "GET",
    **kwargs: Any,
) -> Any:
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
    if tenant:
        headers["xero-tenant-id"] = tenant
    headers.update(kwargs.pop("headers", {}))
    return client.open(f"{API}/{path}", method=method, headers=headers, **kwargs)


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def advance(client: FlaskClient, seconds: float) -> None:
    assert client.post("/_sandbox/xero/clock/advance", json={"seconds": seconds}).status_code == 200


def invoices(client: FlaskClient, tokens: dict[str, Any], tenant: str, **query: Any) -> list[dict]:
    answer = call(client, tokens, tenant, "Invoices", query_string=query)
    assert answer.status_code == 200, answer.data
    return answer.json["Invoices"]


def sales(client: FlaskClient, tokens: dict[str, Any], tenant: str, status: str) -> list[dict]:
    return invoices(client, tokens, tenant, where='Type=="ACCREC"', Statuses=status)


# --- OAuth and connections -------------------------------------------------------------------


def test_consent_with_two_organisations_gives_two_connections(client, tenants):
    tokens = connect(client, tenants[:2])
    assert tokens["expires_in"] == 1800 and tokens["token_type"] == "Bearer"
    claims = jwt_claims(tokens["access_token"])
    assert {"authentication_event_id", "xero_userid", "exp"} <= set(claims)
    rows = client.get(
        "/xero/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json
    assert [row["tenantId"] for row in rows] == tenants[:2]
    assert {row["authEventId"] for row in rows} == {claims["authentication_event_id"]}
    assert rows[0]["tenantType"] == "ORGANISATION" and not rows[0]["createdDateUtc"].endswith("Z")
    for tenant in tenants[:2]:
        assert call(client, tokens, tenant, "Organisation").status_code == 200
    refused = call(client, tokens, tenants[2], "Organisation")
    assert refused.status_code == 403 and refused.json["Detail"] == "AuthenticationUnsuccessful"


def test_consent_refusals(client, tenants):
    base = {"client_id": CLIENT, "redirect_uri": REDIRECT, "state": "s", "scope": SCOPE}
    denied = client.post(
        "/xero/identity/connect/authorize/approve",
        data={**base, "action": "deny", "tenant": tenants[0]},
    )
    assert "error=access_denied" in denied.headers["Location"]
    retired = client.get(
        "/xero/identity/connect/authorize",
        query_string={**base, "scope": "offline_access accounting.transactions"},
    )
    assert retired.status_code == 302 and "error=invalid_scope" in retired.headers["Location"]
    stranger = client.get(
        "/xero/identity/connect/authorize", query_string={**base, "client_id": "someone-else"}
    )
    assert stranger.status_code == 400
    nothing_chosen = client.post(
        "/xero/identity/connect/authorize/approve", data={**base, "action": "allow"}
    )
    assert nothing_chosen.status_code == 400


def test_refresh_rotates_with_thirty_minute_grace(client, tenants):
    first = connect(client, tenants[:1])
    second = refresh(client, first["refresh_token"]).json
    assert second["refresh_token"] != first["refresh_token"]
    replay = refresh(client, first["refresh_token"]).json  # the lost-response retry
    assert (replay["access_token"], replay["refresh_token"]) == (
        second["access_token"],
        second["refresh_token"],
    )
    third = refresh(client, second["refresh_token"]).json
    advance(client, 29 * 60)
    assert refresh(client, first["refresh_token"]).status_code == 200
    advance(client, 2 * 60)
    stale = refresh(client, first["refresh_token"])
    assert stale.status_code == 400 and stale.json == {"error": "invalid_grant"}
    assert refresh(client, second["refresh_token"]).json == {"error": "invalid_grant"}
    assert refresh(client, third["refresh_token"]).status_code == 200


def test_access_token_expires_after_thirty_minutes(client, tenants):
    tokens = connect(client, tenants[:1])
    advance(client, 1801)
    expired = call(client, tokens, tenants[0], "Organisation")
    assert expired.status_code == 401 and expired.json["Detail"].startswith("TokenExpired: ")
    fresh = refresh(client, tokens["refresh_token"]).json
    assert call(client, fresh, tenants[0], "Organisation").status_code == 200
    assert client.post("/_sandbox/xero/expire-tokens").json["expired"] >= 1
    assert call(client, fresh, tenants[0], "Organisation").status_code == 401


def test_revocation_kills_the_grant_and_its_connections(client, tenants):
    tokens = connect(client, tenants[:2])
    revoked = client.post(
        "/xero/identity/connect/revocation",
        data={"token": tokens["refresh_token"]},
        headers={"Authorization": BASIC},
    )
    assert revoked.status_code == 200
    assert refresh(client, tokens["refresh_token"]).json == {"error": "invalid_grant"}
    assert call(client, tokens, tenants[0], "Organisation").status_code == 401
    assert client.get("/_sandbox/xero/connections").json["connections"] == []


def test_deleting_one_connection_keeps_the_other(client, tenants):
    tokens = connect(client, tenants[:2])
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    rows = client.get("/xero/connections", headers=auth).json
    assert client.delete(f"/xero/connections/{rows[0]['id']}", headers=auth).status_code == 204
    assert call(client, tokens, rows[0]["tenantId"], "Invoices").status_code == 403
    assert call(client, tokens, rows[1]["tenantId"], "Invoices").status_code == 200
    assert [r["tenantId"] for r in client.get("/xero/connections", headers=auth).json] == [
        rows[1]["tenantId"]
    ]


def test_reconsent_replaces_the_connection_with_a_new_auth_event(client, tenants):
    first = connect(client, tenants[:1])
    second = connect(client, tenants[:1])
    rows = client.get(
        "/xero/connections", headers={"Authorization": f"Bearer {second['access_token']}"}
    ).json
    assert len(rows) == 1
    assert rows[0]["authEventId"] == jwt_claims(second["access_token"])["authentication_event_id"]
    assert rows[0]["authEventId"] != jwt_claims(first["access_token"])["authentication_event_id"]


def test_scopes_are_enforced_per_resource(client, tenants):
    tokens = connect(client, tenants[:1], scope="offline_access accounting.invoices.read")
    assert "refresh_token" in tokens
    assert call(client, tokens, tenants[0], "Invoices").status_code == 200
    denied = call(client, tokens, tenants[0], "Payments")
    assert denied.status_code == 401 and denied.json["Detail"] == "AuthorizationUnsuccessful"
    no_offline = connect(client, tenants[:1], scope="accounting.invoices")
    assert "refresh_token" not in no_offline


# --- Reads -----------------------------------------------------------------------------------


@pytest.fixture
def kiwi(client, tenants) -> tuple[dict[str, Any], str]:
    return connect(client, tenants[:1]), tenants[0]


def test_tenant_header_is_case_insensitive_and_required(client, kiwi):
    tokens, tenant = kiwi
    upper = call(client, tokens, None, "Organisation", headers={"XERO-TENANT-ID": tenant})
    assert upper.status_code == 200
    org = upper.json["Organisations"][0]
    assert (org["Name"], org["BaseCurrency"], org["Timezone"]) == (
        "Kiwi Kitchens Ltd",
        "NZD",
        "NEWZEALANDSTANDARDTIME",
    )
    assert call(client, tokens, None, "Organisation").status_code == 403
    assert call(client, tokens, "not-a-tenant", "Organisation").status_code == 403


def test_if_modified_since_is_a_header_not_a_query_parameter(client, kiwi):
    tokens, tenant = kiwi
    everything = invoices(client, tokens, tenant)
    target = sales(client, tokens, tenant, "AUTHORISED")[0]["InvoiceID"]
    advance(client, 5)
    since = datetime.now(UTC) + timedelta(seconds=4)
    client.post(f"/_sandbox/xero/{tenant}/payments", json={"invoice_id": target, "amount": "1.00"})
    for header in (
        format_datetime(since.replace(microsecond=0), usegmt=True),
        since.strftime("%Y-%m-%dT%H:%M:%S"),
    ):
        changed = call(
            client, tokens, tenant, "Invoices", headers={"If-Modified-Since": header}
        ).json["Invoices"]
        assert [i["InvoiceID"] for i in changed] == [target]
    ignored = invoices(client, tokens, tenant, **{"If-Modified-Since": since.isoformat()})
    assert len(ignored) == len(everything) > 1
    logged = client.get("/_sandbox/xero/requests").json["requests"]
    assert any("If-Modified-Since" in entry["headers"] for entry in logged)


def test_paging_line_items_and_page_size_cap(client, kiwi):
    tokens, tenant = kiwi
    unpaged = call(client, tokens, tenant, "Invoices").json
    assert "pagination" not in unpaged and all(i["LineItems"] == [] for i in unpaged["Invoices"])
    first = call(client, tokens, tenant, "Invoices", query_string={"page": 1, "pageSize": 30}).json
    assert first["pagination"] == {"page": 1, "pageSize": 30, "pageCount": 7, "itemCount": 200}
    assert all(i["LineItems"] for i in first["Invoices"])
    last = call(client, tokens, tenant, "Invoices", query_string={"page": 7, "pageSize": 30}).json
    assert len(last["Invoices"]) == 20
    seen = {i["InvoiceID"] for i in first["Invoices"]} | {i["InvoiceID"] for i in last["Invoices"]}
    assert len(seen) == 50
    capped = call(client, tokens, tenant, "Invoices", query_string={"page": 1, "pageSize": 5000})
    assert capped.json["pagination"]["pageSize"] == 1000
    ordered = invoices(client, tokens, tenant, page=1, order="UpdatedDateUTC ASC")
    stamps = [int(i["UpdatedDateUTC"][6:19]) for i in ordered]
    assert stamps == sorted(stamps)


def test_ids_filter_and_single_gets(client, kiwi):
    tokens, tenant = kiwi
    wanted = [i["InvoiceID"] for i in invoices(client, tokens, tenant)[:3:2]]
    found = invoices(client, tokens, tenant, IDs=",".join(wanted))
    assert sorted(i["InvoiceID"] for i in found) == sorted(wanted)
    bad = call(client, tokens, tenant, "Invoices", query_string={"IDs": "nope"})
    assert bad.status_code == 400 and b"must be of type UUID" in bad.data
    one = call(client, tokens, tenant, f"Invoices/{wanted[0]}").json
    assert [i["InvoiceID"] for i in one["Invoices"]] == [wanted[0]] and "pagination" not in one
    assert "EmailAddress" in one["Invoices"][0]["Contact"]
    assert (
        call(client, tokens, tenant, "Invoices/00000000-0000-4000-8000-000000000000").status_code
        == 404
    )


def test_where_accepts_type_and_refuses_id_filters(client, kiwi):
    tokens, tenant = kiwi
    sales_only = invoices(client, tokens, tenant, where='Type=="ACCREC"')
    assert sales_only and {i["Type"] for i in sales_only} == {"ACCREC"}
    assert len(sales_only) < len(invoices(client, tokens, tenant))
    some_id = sales_only[0]["InvoiceID"]
    refused = call(
        client, tokens, tenant, "Invoices", query_string={"where": f'InvoiceID==Guid("{some_id}")'}
    )
    assert refused.status_code == 400 and "IDs" in refused.json["Message"]
    unknown = call(client, tokens, tenant, "Invoices", query_string={"where": 'Colour=="red"'})
    assert unknown.status_code == 400 and unknown.json["Type"] == "QueryParseException"
    voided = invoices(client, tokens, tenant, Statuses="VOIDED,DELETED")
    assert voided and {i["Status"] for i in voided} <= {"VOIDED", "DELETED"}


def test_archived_contacts_need_include_archived(client, kiwi):
    tokens, tenant = kiwi
    default = call(client, tokens, tenant, "Contacts").json["Contacts"]
    everyone = call(
        client, tokens, tenant, "Contacts", query_string={"includeArchived": "true"}
    ).json["Contacts"]
    archived = [c for c in everyone if c["ContactStatus"] == "ARCHIVED"]
    assert archived and all(c["ContactStatus"] == "ACTIVE" for c in default)
    assert len(everyone) == len(default) + len(archived)
    archived_ids = {c["ContactID"] for c in archived}
    assert any(i["Contact"]["ContactID"] in archived_ids for i in invoices(client, tokens, tenant))
    paged = call(client, tokens, tenant, "Contacts", query_string={"page": 1}).json["Contacts"]
    assert any("Balances" in c for c in paged)


def test_seed_is_rich_and_in_xero_shapes(client, kiwi):
    tokens, tenant = kiwi
    everything = invoices(client, tokens, tenant, page=1, pageSize=1000)
    statuses = {i["Status"] for i in everything if i["Type"] == "ACCREC"}
    assert statuses == {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"}
    assert any(i["Type"] == "ACCPAY" for i in everything)
    assert any(isinstance(i["AmountDue"], str) for i in everything)
    assert any(i["CurrencyCode"] != "NZD" and i["CurrencyRate"] != 1.0 for i in everything)
    assert any("discount" in i.get("Reference", "").lower() for i in everything)
    partly = [i for i in everything if i["Status"] == "AUTHORISED" and i["Payments"]]
    assert partly and all(Decimal(str(i["AmountDue"])) > 0 for i in partly)
    sample = everything[0]
    assert sample["Date"].startswith("/Date(") and sample["Date"].endswith("+0000)/")
    assert sample["DateString"].endswith("T00:00:00")
    day = datetime.fromtimestamp(int(sample["Date"][6:19]) / 1000, UTC).date().isoformat()
    assert sample["DateString"].startswith(day)
    buckets = client.get(f"/_sandbox/xero/{tenant}/summary").json["ageing"]["NZD"]
    assert set(buckets) == {"current", "1-30", "31-60", "61-90", "90+"}
    payments = call(client, tokens, tenant, "Payments").json["Payments"]
    assert any("BatchPaymentID" in p for p in payments)
    assert any(p["Date"].endswith(("+1300)/", "+1200)/")) for p in payments)  # NZ local midnight
    notes = call(client, tokens, tenant, "CreditNotes").json["CreditNotes"]
    assert any(n["Allocations"] for n in notes) and any(n["RemainingCredit"] > 0 for n in notes)
    for kind in ("Overpayments", "Prepayments"):
        assert any(d["Allocations"] for d in call(client, tokens, tenant, kind).json[kind])


def test_seed_is_deterministic():
    def snapshot() -> tuple[list[str], list[str]]:
        client = create_app(SandboxConfig(size="small", seed=11)).test_client()
        orgs = client.get("/_sandbox/xero/organisations").json["organisations"]
        summary = client.get(f"/_sandbox/xero/{orgs[0]['tenantId']}/summary").json
        return [o["tenantId"] for o in orgs], [json.dumps(summary, sort_keys=True)]

    assert snapshot() == snapshot()


def test_sandbox_today_anchors_the_calendar():
    app = create_app(SandboxConfig(size="small"))
    app.config["SANDBOX_TODAY"] = "2025-03-01"
    client = app.test_client()
    tenant = client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"]
    assert client.get(f"/_sandbox/xero/{tenant}/summary").json["today"] == "2025-03-01"
    assert client.get("/_sandbox/xero/clock").json["now"].startswith("2025-03-01T")


def test_summary_matches_what_the_api_serves(client, kiwi):
    tokens, tenant = kiwi
    open_items = sales(client, tokens, tenant, "AUTHORISED")
    totals: dict[str, Decimal] = {}
    for inv in open_items:
        totals[inv["CurrencyCode"]] = totals.get(inv["CurrencyCode"], Decimal(0)) + Decimal(
            str(inv["AmountDue"])
        )
    summary = client.get(f"/_sandbox/xero/{tenant}/summary").json
    assert summary["openAmountDue"] == {cur: f"{value:.2f}" for cur, value in totals.items()}
    assert summary["invoices"]["ACCREC"]["AUTHORISED"] == len(open_items)


# --- Limits and faults -----------------------------------------------------------------------


def test_minute_limit_answers_429_with_retry_after(client, kiwi):
    tokens, tenant = kiwi
    answers = [call(client, tokens, tenant, "Organisation") for _ in range(60)]
    assert [a.status_code for a in answers] == [200] * 60
    assert answers[0].headers["X-MinLimit-Remaining"] == "59"
    assert answers[-1].headers["X-MinLimit-Remaining"] == "0"
    assert int(answers[-1].headers["X-DayLimit-Remaining"]) == 4940
    assert "X-AppMinLimit-Remaining" in answers[-1].headers
    over = call(client, tokens, tenant, "Organisation")
    assert over.status_code == 429 and over.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    advance(client, 61)
    assert call(client, tokens, tenant, "Organisation").status_code == 200


def test_faults(app, client, kiwi):
    tokens, tenant = kiwi
    faults = app.extensions["sandbox_faults"]
    faults.arm("xero", "rate_limit")
    limited = call(client, tokens, tenant, "Invoices")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.headers["X-Rate-Limit-Problem"] == "minute"
    faults.arm("xero", "server_error")
    assert call(client, tokens, tenant, "Invoices").status_code == 503
    assert call(client, tokens, tenant, "Invoices").status_code == 200
    faults.arm("xero", "revoke")
    assert call(client, tokens, tenant, "Invoices").status_code == 401
    assert refresh(client, tokens["refresh_token"]).json == {"error": "invalid_grant"}


@pytest.fixture
def served(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def test_five_calls_in_flight_at_most(app, client, kiwi, served):
    tokens, tenant = kiwi
    app.extensions["sandbox_faults"].arm("xero", "slow", count=6, seconds=1.0)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": tenant}
    answers: list[requests.Response] = []

    def fetch() -> None:
        answers.append(requests.get(f"{served}{API}/Organisation", headers=headers, timeout=10))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) == 1 and limited[0].headers["X-Rate-Limit-Problem"] == "concurrent"
    assert sorted(a.status_code for a in answers) == [200] * 5 + [429]


# --- Writes ----------------------------------------------------------------------------------


def test_email_needs_an_approved_sales_invoice(client, kiwi):
    tokens, tenant = kiwi
    draft = sales(client, tokens, tenant, "DRAFT")[0]["InvoiceID"]
    refused = call(client, tokens, tenant, f"Invoices/{draft}/Email", "POST", json={})
    body = refused.json
    assert refused.status_code == 400 and body["Type"] == "ValidationException"
    assert body["Elements"][0]["ValidationErrors"][0]["Message"]
    emailable = [i for i in sales(client, tokens, tenant, "AUTHORISED") if not i["SentToContact"]]
    target = next(i["InvoiceID"] for i in emailable if _has_email(client, tokens, tenant, i))
    assert (
        call(client, tokens, tenant, f"Invoices/{target}/Email", "POST", json={}).status_code == 204
    )
    assert call(client, tokens, tenant, f"Invoices/{target}").json["Invoices"][0]["SentToContact"]
    assert [
        e["invoiceId"] for e in client.get(f"/_sandbox/xero/{tenant}/emails").json["emails"]
    ] == [target]


def _has_email(client, tokens, tenant, invoice) -> bool:
    contact = call(client, tokens, tenant, f"Contacts/{invoice['Contact']['ContactID']}")
    return bool(contact.json["Contacts"][0]["EmailAddress"])


def test_history_notes_and_validation(client, kiwi):
    tokens, tenant = kiwi
    target = sales(client, tokens, tenant, "AUTHORISED")[0]["InvoiceID"]
    added = call(
        client,
        tokens,
        tenant,
        f"Invoices/{target}/History",
        "PUT",
        json={"HistoryRecords": [{"Details": "Reminder 1 sent by Dunwell"}]},
    )
    assert added.status_code == 200 and added.json["HistoryRecords"][0]["Changes"] == "Note"
    listed = call(client, tokens, tenant, f"Invoices/{target}/History").json["HistoryRecords"]
    assert listed[0]["Details"] == "Reminder 1 sent by Dunwell"
    empty = call(
        client,
        tokens,
        tenant,
        f"Invoices/{target}/History",
        "PUT",
        json={"HistoryRecords": [{"Details": ""}]},
    )
    assert empty.status_code == 400 and empty.json["Type"] == "ValidationException"
    garbage = call(
        client,
        tokens,
        tenant,
        "ContactGroups",
        "PUT",
        data="{nope",
        headers={"Content-Type": "application/json"},
    )
    assert garbage.status_code == 400 and garbage.json["Type"] == "ValidationException"


def test_idempotency_key_replays_the_first_answer(client, kiwi):
    tokens, tenant = kiwi
    invoice = sales(client, tokens, tenant, "AUTHORISED")[0]
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "CurrencyCode": invoice["CurrencyCode"],
        "LineItems": [
            {"Description": "Early payment discount", "Quantity": 1, "UnitAmount": "5.00"}
        ],
    }
    before = len(call(client, tokens, tenant, "CreditNotes").json["CreditNotes"])
    key = {"Idempotency-Key": "dunwell-outbox-42"}
    first = call(
        client, tokens, tenant, "CreditNotes", "PUT", json={"CreditNotes": [note]}, headers=key
    )
    again = call(
        client, tokens, tenant, "CreditNotes", "PUT", json={"CreditNotes": [note]}, headers=key
    )
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert len(call(client, tokens, tenant, "CreditNotes").json["CreditNotes"]) == before + 1
    other = call(
        client,
        tokens,
        tenant,
        "CreditNotes",
        "PUT",
        json={"CreditNotes": [note]},
        headers={"Idempotency-Key": "dunwell-outbox-43"},
    )
    assert (
        other.json["CreditNotes"][0]["CreditNoteID"] != first.json["CreditNotes"][0]["CreditNoteID"]
    )


def test_credit_note_allocation_settles_an_invoice(app, client, kiwi):
    tokens, tenant = kiwi
    invoice = next(
        i
        for i in sales(client, tokens, tenant, "AUTHORISED")
        if not isinstance(i["AmountDue"], str) and i["CurrencyCode"] == "NZD"
    )
    due = Decimal(str(invoice["AmountDue"]))
    note = {
        "Type": "ACCRECCREDIT",
        "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
        "Status": "AUTHORISED",
        "LineAmountTypes": "NoTax",
        "LineItems": [{"Description": "Settlement discount", "UnitAmount": str(due)}],
    }
    created = call(client, tokens, tenant, "CreditNotes", "PUT", json={"CreditNotes": [note]})
    credit_id = created.json["CreditNotes"][0]["CreditNoteID"]
    too_much = {
        "Allocations": [
            {
                "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                "Amount": str(due + 1),
                "Date": "2026-01-01",
            }
        ]
    }
    assert (
        call(
            client, tokens, tenant, f"CreditNotes/{credit_id}/Allocations", "PUT", json=too_much
        ).status_code
        == 400
    )
    exact = {"Allocations": [{"Invoice": {"InvoiceID": invoice["InvoiceID"]}, "Amount": str(due)}]}
    assert (
        call(
            client, tokens, tenant, f"CreditNotes/{credit_id}/Allocations", "PUT", json=exact
        ).status_code
        == 200
    )
    settled = call(client, tokens, tenant, f"Invoices/{invoice['InvoiceID']}").json["Invoices"][0]
    assert settled["Status"] == "PAID" and settled["AmountDue"] == 0
    assert settled["CreditNotes"][0]["CreditNoteID"] == credit_id
    credit = call(client, tokens, tenant, f"CreditNotes/{credit_id}").json["CreditNotes"][0]
    assert credit["RemainingCredit"] == 0 and credit["Status"] == "PAID"
    events = client.get("/_sandbox/xero/events").json["events"]
    assert {(e["eventCategory"], e["eventType"]) for e in events} >= {
        ("CREDITNOTE", "CREATE"),
        ("CREDITNOTE", "UPDATE"),
        ("INVOICE", "UPDATE"),
    }


def test_contact_group_as_credit_hold(client, kiwi):
    tokens, tenant = kiwi
    contact = call(client, tokens, tenant, "Contacts").json["Contacts"][0]
    group = call(
        client,
        tokens,
        tenant,
        "ContactGroups",
        "PUT",
        json={"ContactGroups": [{"Name": "Credit Hold"}]},
    ).json["ContactGroups"][0]
    path = f"ContactGroups/{group['ContactGroupID']}/Contacts"
    assert (
        call(
            client,
            tokens,
            tenant,
            path,
            "PUT",
            json={"Contacts": [{"ContactID": contact["ContactID"]}]},
        ).status_code
        == 200
    )
    held = call(client, tokens, tenant, f"Contacts/{contact['ContactID']}").json["Contacts"][0]
    assert "Credit Hold" in [g["Name"] for g in held["ContactGroups"]]
    assert held["UpdatedDateUTC"] > contact["UpdatedDateUTC"]
    members = call(client, tokens, tenant, f"ContactGroups/{group['ContactGroupID']}").json
    assert [c["ContactID"] for c in members["ContactGroups"][0]["Contacts"]] == [
        contact["ContactID"]
    ]
    assert (
        call(client, tokens, tenant, f"{path}/{contact['ContactID']}", "DELETE").status_code == 204
    )
    released = call(client, tokens, tenant, f"Contacts/{contact['ContactID']}").json["Contacts"][0]
    assert "Credit Hold" not in [g["Name"] for g in released["ContactGroups"]]
    duplicate = call(
        client,
        tokens,
        tenant,
        "ContactGroups",
        "PUT",
        json={"ContactGroups": [{"Name": "Credit Hold"}]},
    )
    assert duplicate.status_code == 400


# --- Control API and webhooks ----------------------------------------------------------------


def test_control_payments_invoices_and_bad_input(client, kiwi):
    tokens, tenant = kiwi
    contact = call(client, tokens, tenant, "Contacts").json["Contacts"][0]["ContactID"]
    made = client.post(
        f"/_sandbox/xero/{tenant}/invoices",
        json={"contact_id": contact, "amount": "250.00", "due_in_days": 14},
    )
    assert made.status_code == 201 and made.json["Status"] == "AUTHORISED"
    invoice_id = made.json["InvoiceID"]
    part = client.post(
        f"/_sandbox/xero/{tenant}/payments", json={"invoice_id": invoice_id, "amount": "100.00"}
    )
    assert part.status_code == 201 and part.json["Amount"] == 100.0
    current = call(client, tokens, tenant, f"Invoices/{invoice_id}").json["Invoices"][0]
    assert (current["AmountPaid"], current["AmountDue"], current["Status"]) == (
        100.0,
        150.0,
        "AUTHORISED",
    )
    client.post(f"/_sandbox/xero/{tenant}/payments", json={"invoice_id": invoice_id})
    paid = call(client, tokens, tenant, f"Invoices/{invoice_id}").json["Invoices"][0]
    assert (paid["AmountDue"], paid["Status"]) == (0.0, "PAID")
    assert client.post(f"/_sandbox/xero/{tenant}/invoices/{invoice_id}/void").status_code == 400
    for body in ({"invoice_id": invoice_id, "amount": "-3"}, {"amount": "1"}):
        refused = client.post(f"/_sandbox/xero/{tenant}/payments", json=body)
        assert refused.status_code == 400 and refused.json["error"]
    assert client.get("/_sandbox/xero/no-such-tenant/summary").status_code == 404


class Receiver(BaseHTTPRequestHandler):
    """Records webhook deliveries; answers like a correct Dunwell endpoint unless `lax`."""

    key = b"sandbox-xero-webhook-key"
    lax = False
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        expected = base64.b64encode(hmac.new(self.key, body, hashlib.sha256).digest()).decode()
        good = self.lax or hmac.compare_digest(expected, self.headers["x-xero-signature"])
        self.send_response(200 if good else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/xero", handler
    server.shutdown()
    thread.join()
    server.server_close()


def test_payment_fires_a_signed_invoice_update(receiver):
    url, handler = receiver
    app = create_app(SandboxConfig(size="small", xero_webhook_url=url, webhook_delay_seconds=0.05))
    client = app.test_client()
    tenant = client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"]
    tokens = connect(client, [tenant])
    target = sales(client, tokens, tenant, "AUTHORISED")[0]["InvoiceID"]
    client.post(f"/_sandbox/xero/{tenant}/payments", json={"invoice_id": target})
    client.post("/_sandbox/webhooks/flush")
    deadline = time.monotonic() + 5
    while not handler.received and time.monotonic() < deadline:
        time.sleep(0.02)
    headers, body = handler.received[0]
    payload = json.loads(body)
    expected = base64.b64encode(hmac.new(Receiver.key, body, hashlib.sha256).digest()).decode()
    assert headers["x-xero-signature"] == expected
    event = payload["events"][0]
    assert (event["eventCategory"], event["eventType"], event["resourceId"], event["tenantId"]) == (
        "INVOICE",
        "UPDATE",
        target,
        tenant,
    )
    assert event["resourceUrl"] == f"https://api.xero.com/api.xro/2.0/Invoices/{target}"
    assert payload["firstEventSequence"] <= payload["lastEventSequence"] and payload["entropy"]


def test_intent_to_receive(receiver):
    url, handler = receiver
    client = create_app(SandboxConfig(size="small", xero_webhook_url=url)).test_client()
    good = client.post("/_sandbox/xero/intent-to-receive").json
    assert good["ok"] is True and [d["status"] for d in good["details"]] == [200, 401]
    bodies = [json.loads(body) for _, body in handler.received]
    assert all(b["events"] == [] and b["firstEventSequence"] == 0 for b in bodies)
    handler.lax = True
    lax = client.post("/_sandbox/xero/intent-to-receive").json
    assert lax["ok"] is False and lax["details"][1]["problems"]
    unconfigured = create_app(SandboxConfig(size="small")).test_client()
    assert unconfigured.post("/_sandbox/xero/intent-to-receive").status_code == 400


def test_large_set_serves_a_thousand_item_page():
    """Only the Xero half: the large QuickBooks set is not what this checks. How fast it is
    served is measured by bench/peers.py and bench/sync_ingest.py, not timed here (a timed
    test fails on a loaded machine)."""
    app = Flask(__name__)
    xero.init_app(app, SandboxConfig(size="large"), Faults(), WebhookSender())
    client = app.test_client()
    tenant = client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"]
    tokens = connect(client, [tenant])
    page = call(client, tokens, tenant, "Invoices", query_string={"page": 3, "pageSize": 1000})
    assert len(page.json["Invoices"]) == 1000 and page.json["pagination"]["itemCount"] >= 20_000
    assert get_sandbox(app).store().ledger(tenant) is not None
