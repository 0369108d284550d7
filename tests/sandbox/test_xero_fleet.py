"""The Xero sandbox's fleet of tiny organisations and its per-tenant usage of the rate limits
(for bench/scaleout.py)."""

from __future__ import annotations

from sandbox.app import SandboxConfig
from sandbox.app import create_app
from tests.sandbox.test_xero_sandbox import call
from tests.sandbox.test_xero_sandbox import connect


def test_a_fleet_adds_tiny_organisations_that_connect_and_answer():
    client = create_app(SandboxConfig(size="small", xero_fleet=4)).test_client()
    orgs = client.get("/_sandbox/xero/organisations").json["organisations"]
    assert len(orgs) == 7
    fleet = [o for o in orgs if o["name"].startswith("Fleet ")]
    assert [o["name"][:9] for o in fleet] == ["Fleet 001", "Fleet 002", "Fleet 003", "Fleet 004"]
    assert len({o["tenantId"] for o in orgs}) == 7
    tokens = connect(client, [fleet[0]["tenantId"]])
    answer = call(client, tokens, fleet[0]["tenantId"], "Invoices")
    assert answer.status_code == 200
    assert len(answer.json["Invoices"]) >= 60


def test_the_first_three_organisations_do_not_change_with_a_fleet():
    plain = create_app(SandboxConfig(size="small")).test_client()
    fleet = create_app(SandboxConfig(size="small", xero_fleet=2)).test_client()
    first = plain.get("/_sandbox/xero/organisations").json["organisations"]
    assert fleet.get("/_sandbox/xero/organisations").json["organisations"][:3] == first


def test_usage_counts_calls_per_minute_in_flight_and_refusals():
    client = create_app(SandboxConfig(size="small")).test_client()
    tenant = client.get("/_sandbox/xero/organisations").json["organisations"][0]["tenantId"]
    client.post("/_sandbox/xero/limits", json={"per_minute": 3})
    tokens = connect(client, [tenant])
    statuses = [call(client, tokens, tenant, "Organisation").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    usage = client.get("/_sandbox/xero/limits/usage").json["tenants"][tenant]
    assert usage == {"calls": 5, "peak_minute_calls": 5, "peak_in_flight": 1, "refused": 2}
    client.delete("/_sandbox/xero/limits/usage")
    assert client.get("/_sandbox/xero/limits/usage").json["tenants"] == {}
