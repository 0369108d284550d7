"""The rules page: check, preview and save a rule set as a person would, through the form."""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

from core.db import session_scope
from core.models import Customer
from core.models import Invoice
from rules.ruleset import store
from rules.ruleset.defaults import starter
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in


def csrf(client, org_id: int) -> str:
    page = client.get(f"/orgs/{org_id}/rules").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def submit(client, org_id: int, document, action: str, **extra):
    text = document if isinstance(document, str) else json.dumps(document)
    data = {"csrf_token": csrf(client, org_id), "document": text, "action": action, **extra}
    return client.post(f"/orgs/{org_id}/rules", data=data)


def connected_org(client, session_factory) -> int:
    org_id = make_org(
        session_factory,
        "quickbooks",
        "9130",
        last_synced_at=datetime.now(UTC),
        timezone="America/New_York",
    )
    sign_in(client, org_id)
    return org_id


def test_a_new_organization_starts_from_the_starter_policy(client, session_factory):
    org_id = connected_org(client, session_factory)
    page = client.get(f"/orgs/{org_id}/rules").get_data(as_text=True)
    assert "No rule set is active yet" in page
    assert starter()["name"] in page


def test_invalid_json_and_invalid_fields_are_named_and_nothing_is_saved(client, session_factory):
    org_id = connected_org(client, session_factory)
    response = submit(client, org_id, '{"name": "x",', "save")
    assert response.status_code == 422
    assert "is not valid JSON" in response.get_data(as_text=True)
    broken = starter()
    broken["policies"][0]["steps"][0]["offset_days"] = "soon"
    response = submit(client, org_id, broken, "save")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "policies[0].steps[0].offset_days" in page
    with session_scope(session_factory) as session:
        assert store.rule_set(session, org_id) is None


def test_save_activates_a_new_version_each_time(client, session_factory):
    org_id = connected_org(client, session_factory)
    assert submit(client, org_id, starter(), "save", activate="on", note="first").status_code == 302
    assert submit(client, org_id, starter(), "save", note="draft").status_code == 302
    page = client.get(f"/orgs/{org_id}/rules").get_data(as_text=True)
    assert "Version 1 is active." in page
    with session_scope(session_factory) as session:
        owner = store.rule_set(session, org_id)
        assert owner.active_number == 1 and [v.number for v in owner.versions] == [1, 2]


def test_preview_shows_what_would_happen_today(client, session_factory):
    org_id = connected_org(client, session_factory)
    with session_scope(session_factory) as session:
        now = datetime.now(UTC)
        session.add(
            Customer(organization_id=org_id, external_id="C1", version="0", updated_at=now,
                     name="Acme Ltd", email="ap@acme.test")
        )  # fmt: skip
        session.add(
            Invoice(organization_id=org_id, external_id="I1", version="0", updated_at=now,
                    customer_external_id="C1", number="1001", currency="USD",
                    issue_date=date.today() - timedelta(days=60),
                    due_date=date.today() - timedelta(days=30),
                    total=Decimal("500.00"), balance=Decimal("500.00"), status="open")
        )  # fmt: skip
    response = submit(client, org_id, starter(), "preview")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "What it would do today" in page
    assert "reminder" in page and "Acme Ltd" in page


def test_the_rules_page_of_another_organization_is_not_reachable(client, session_factory):
    other = make_org(session_factory, "quickbooks", "777")
    assert client.get(f"/orgs/{other}/rules").status_code == 404
