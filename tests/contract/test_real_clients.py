"""The official and community clients read the sandbox unmodified, only their base URLs
redirected: python-quickbooks with intuit-oauth, xero-python, tap-quickbooks and tap-xero. Each
runs in a virtualenv of its own (tests.contract.venvs) as a subprocess, and what it read must
equal the sandbox's own totals (its control API's summaries)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.contract import consent
from tests.contract import programs
from tests.contract import totals
from tests.contract.venvs import python_for

pytestmark = pytest.mark.e2e

LARKSPUR = "9341453050010001"  # USD only
HARBOUR = "9341453050010002"  # CAD, invoices in four currencies
KIWI = "Kiwi Kitchens Ltd"  # NZD, with AUD invoices open
START = "2000-01-01T00:00:00Z"
QUICKBOOKS_STREAMS = {"customers", "invoices", "payments", "credit_memos"}
XERO_STREAMS = {
    "contacts",
    "invoices",
    "payments",
    "credit_notes",
    "overpayments",
    "prepayments",
    "currencies",
    "organisations",
}


def write_json(path: Path, value: dict) -> str:
    path.write_text(json.dumps(value))
    return str(path)


@pytest.mark.parametrize("realm_id", [LARKSPUR, HARBOUR])
def test_python_quickbooks_with_intuit_oauth(sandbox, tmp_path, realm_id):
    python = python_for("python-quickbooks")
    client_id, secret = consent.INTUIT_CLIENT
    settings = {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": consent.REDIRECT_URI,
    }
    path = write_json(tmp_path / "settings.json", settings)
    with programs.started(sandbox, python, "read_quickbooks.py", path) as program:
        authorize = program.receive()["authorize"]
        # The URL comes from the discovery document the sandbox serves at Intuit's path.
        assert authorize.startswith(f"{sandbox}/qbo/connect/oauth2?")
        out = program.finish(consent.approve(authorize, {"realm_id": realm_id}))

    reading = programs.last_json_line(out)
    assert reading["invoices"] > 0 and reading["open_balance"]
    assert reading.pop("revoked") is True
    assert reading.pop("invoices_counted") == reading["invoices"]
    assert reading.pop("customers_counted") == reading["customers"]
    assert reading == totals.quickbooks_expected(sandbox, realm_id)


def test_xero_python_reads_every_organisation(sandbox, tmp_path):
    python = python_for("xero-python")
    token = consent.xero_grant(sandbox)
    client_id, secret = consent.XERO_CLIENT
    keys = ("access_token", "refresh_token", "expires_in", "token_type", "scope", "id_token")
    settings = {
        "client_id": client_id,
        "client_secret": secret,
        "token": {key: token[key] for key in keys},
    }
    out = programs.run(
        sandbox, python, "read_xero.py", write_json(tmp_path / "settings.json", settings)
    )

    reading = programs.last_json_line(out)
    assert reading["revoked"] is True
    organisations = totals.xero_organisations(sandbox)
    assert set(reading["tenants"]) == set(organisations)
    for tenant_id, read in reading["tenants"].items():
        currencies = read.pop("currencies")
        assert currencies[0] == organisations[tenant_id]["baseCurrency"]
        assert set(read["open_amount_due"]) <= set(currencies)
        assert read == totals.xero_expected(sandbox, tenant_id)
    assert sum(read["batch_payments"] for read in reading["tenants"].values()) > 0


def tap_quickbooks(sandbox: str, tmp_path: Path, start: str) -> tuple[Path, str, dict]:
    """The tap's interpreter, a config for Harbour Print Co from `start`, its whole catalog."""
    python = python_for("tap-quickbooks")
    grant = consent.quickbooks_grant(sandbox, HARBOUR)
    client_id, secret = consent.INTUIT_CLIENT
    config = write_json(
        tmp_path / "config.json",
        {
            "start_date": start,
            "user_agent": "dunwell-contract-test",
            "realm_id": grant["realmId"],
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": grant["refresh_token"],
        },
    )
    discovered = programs.run(sandbox, python, "tap-quickbooks", "--config", config, "--discover")
    return python, config, json.loads(discovered)


def test_tap_quickbooks_syncs_through_batch(sandbox, tmp_path):
    python, config, discovered = tap_quickbooks(sandbox, tmp_path, START)
    catalog = write_json(
        tmp_path / "catalog.json", programs.select_streams(discovered, QUICKBOOKS_STREAMS)
    )
    out = programs.run(sandbox, python, "tap-quickbooks", "--config", config, "--catalog", catalog)

    expected = totals.quickbooks_expected(sandbox, HARBOUR)
    del expected["company"]
    assert len(expected["open_balance"]) > 1 and expected["credit_memos"] > 0
    assert totals.quickbooks_from_tap(programs.singer_records(out)) == expected
    batches = requests.get(
        f"{sandbox}/_sandbox/quickbooks/requests", params={"path": "/batch"}, timeout=10
    ).json()["requests"]
    assert batches and all(entry["status"] == 200 for entry in batches)


def test_tap_quickbooks_finds_deletions_through_cdc(sandbox, tmp_path):
    """Its deleted_objects stream asks CDC about every entity QuickBooks tracks, the sandbox's
    and all the others, over the last 30 days at most."""
    control = f"{sandbox}/_sandbox/quickbooks/{HARBOUR}"
    victim = requests.get(f"{control}/open-invoices", timeout=10).json()["invoices"][0]["id"]
    assert requests.post(f"{control}/invoices/{victim}/delete", timeout=10).status_code == 200
    now = requests.get(f"{sandbox}/_sandbox/quickbooks/clock", timeout=10).json()["now"]
    since = datetime.fromisoformat(now).astimezone(UTC) - timedelta(days=29)
    python, config, discovered = tap_quickbooks(
        sandbox, tmp_path, since.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    catalog = write_json(
        tmp_path / "catalog.json", programs.select_streams(discovered, {"deleted_objects"})
    )
    out = programs.run(sandbox, python, "tap-quickbooks", "--config", config, "--catalog", catalog)

    deleted = programs.singer_records(out)["deleted_objects"]
    assert {"Id": victim, "Type": "Invoice"} in [{k: r[k] for k in ("Id", "Type")} for r in deleted]
    held = totals.quickbooks_deleted(sandbox, HARBOUR)
    counted = Counter(row["Type"] for row in deleted)
    assert all(count <= held.get(kind, 0) for kind, count in counted.items())


def test_tap_xero_discovers_through_currencies_and_syncs(sandbox, tmp_path):
    python = python_for("tap-xero")
    grant = consent.xero_grant(sandbox)
    organisations = totals.xero_organisations(sandbox)
    tenant_id = next(t for t, row in organisations.items() if row["name"] == KIWI)
    client_id, secret = consent.XERO_CLIENT
    config = write_json(
        tmp_path / "config.json",
        {
            "start_date": START,
            "user_agent": "dunwell-contract-test",
            "tenant_id": tenant_id,
            "client_id": client_id,
            "client_secret": secret,
            "refresh_token": grant["refresh_token"],
            "include_archived_contacts": "true",
        },
    )
    discovered = json.loads(
        programs.run(sandbox, python, "tap-xero", "--config", config, "--discover")
    )
    catalog = write_json(
        tmp_path / "catalog.json", programs.select_streams(discovered, XERO_STREAMS)
    )
    out = programs.run(sandbox, python, "tap-xero", "--config", config, "--catalog", catalog)

    records = programs.singer_records(out)
    currencies = [row["Code"] for row in records["currencies"]]
    assert currencies[0] == organisations[tenant_id]["baseCurrency"]
    expected = totals.xero_expected(sandbox, tenant_id)
    assert len(expected["open_amount_due"]) > 1 and expected["batch_payments"] > 0
    assert set(expected["open_amount_due"]) <= set(currencies)
    assert totals.xero_from_tap(records) == expected
