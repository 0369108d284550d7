"""The rules JSON API: rule sets, preview, backtest, the outbox, pauses; scoped and CSRF-checked."""

from __future__ import annotations

import copy
from datetime import timedelta

from rq import Queue

from core.db import session_scope
from core.db import utcnow
from rules.jobs import run_evaluation
from tests.connector.conftest import sign_in
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import payment_row
from tests.rules.factories import simple_rules


def seed(session_factory, external_id="realm-1") -> int:
    today = utcnow().date()
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=utcnow(), external_id=external_id)
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", today, 100)
        invoice_row(
            db,
            org,
            "I2",
            "C1",
            today - timedelta(days=7),
            50,
            issue_date=today - timedelta(days=60),
        )
        return org.id


def test_rule_sets_are_saved_as_versions_validated_and_activated(client, session_factory) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    base = f"/api/orgs/{org_id}/rules"
    bad = simple_rules()
    bad["policies"][0]["steps"][1]["offset_days"] = -1
    bad["templates"]["t"]["body"] = "{{ invoice.number }"
    answer = client.post(f"{base}/versions", json={"document": bad})
    assert answer.status_code == 422
    assert answer.json["errors"] == {
        "policies[0].steps[1].offset_days": (
            "steps must be in order of offset_days: -1 is not after the previous step's 0"
        ),
        "templates.t.body": "template syntax error at line 1: unexpected '}'",
    }
    first = client.post(f"{base}/versions", json={"document": simple_rules(), "note": "first"})
    assert first.status_code == 201 and first.json["number"] == 1
    changed = simple_rules(name="Changed")
    second = client.post(f"{base}/versions", json={"document": changed, "activate": True})
    assert second.json["number"] == 2
    listing = client.get(base).json
    assert listing["active"] == 2 and [v["number"] for v in listing["versions"]] == [1, 2]
    assert client.post(f"{base}/versions/1/activate").json["active"] == 1
    assert client.get(base).json["active"] == 1
    assert client.post(f"{base}/versions/9/activate").status_code == 404
    assert client.post(f"{base}/validate", json={"document": simple_rules()}).json["valid"] is True


def test_export_then_import_round_trips(client, session_factory) -> None:
    org_id = seed(session_factory)
    other = seed(session_factory, external_id="realm-2")
    sign_in(client, org_id, other)
    doc = simple_rules(discounts={"early_payment": {"percent": "2", "days": 10}})
    client.post(f"/api/orgs/{org_id}/rules/versions", json={"document": doc, "activate": True})
    exported = client.get(f"/api/orgs/{org_id}/rules/export").json
    assert exported["format"] == "dunwell.rules/1" and exported["version"] == 1
    imported = client.post(f"/api/orgs/{other}/rules/import?activate=1", json=exported)
    assert imported.status_code == 201
    again = client.get(f"/api/orgs/{other}/rules/export").json
    assert again["rules"] == exported["rules"]
    broken = copy.deepcopy(exported)
    broken["format"] = "other/9"
    assert client.post(f"/api/orgs/{other}/rules/import", json=broken).json["errors"] == {
        "format": "must be 'dunwell.rules/1', not 'other/9'"
    }


def test_preview_shows_what_would_happen_today_for_active_or_draft(client, session_factory) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    none_yet = client.post(f"/api/orgs/{org_id}/rules/preview", json={})
    assert (
        none_yet.status_code == 422 and "no active rule set" in none_yet.json["errors"]["version"]
    )
    draft = client.post(f"/api/orgs/{org_id}/rules/preview", json={"document": simple_rules()}).json
    assert draft["counts"] == {"reminder": 1}
    reminder = draft["decisions"][0]
    # Not active yet: as if activated today, so I2 (7 days overdue) is at its 7-day step.
    assert reminder["target"] == "customer:C1" and reminder["subject"] == "Overdue"
    assert reminder["body"] == "I2 I1 "  # the highest step first
    assert draft["approval"].startswith("The first run of this rule set waits")
    assert draft["queued"] == []
    assert reminder["explanation"]["version"] is None  # a draft has no version yet
    client.post(
        f"/api/orgs/{org_id}/rules/versions", json={"document": simple_rules(), "activate": True}
    )
    active = client.post(f"/api/orgs/{org_id}/rules/preview", json={}).json
    assert active["version"] == 1 and active["counts"] == {"reminder": 1}


def test_backtest_replays_a_draft_over_the_past(client, session_factory) -> None:
    org_id = seed(session_factory)
    today = utcnow().date()
    with session_scope(session_factory) as db:
        from core.models import Organization

        org = db.get(Organization, org_id)
        customer_row(db, org, "C2")
        invoice_row(db, org, "P1", "C2", today - timedelta(days=40), 80, 0, status="paid")
        payment_row(db, org, "PAY", "C2", today - timedelta(days=45), {"P1": 80})
    sign_in(client, org_id)
    report = client.post(
        f"/api/orgs/{org_id}/rules/backtest", json={"document": simple_rules(), "months": 1}
    ).json
    assert report["days"] == 31
    assert report["totals"]["reminder"] >= 2
    assert [c["customer"] for c in report["by_customer"]] == ["C1"]  # C2 paid before it was due
    assert client.post(f"/api/orgs/{org_id}/rules/backtest", json={"months": 99}).status_code == 422


def test_the_outbox_lists_decisions_with_explanations(
    client, session_factory, settings, database_url
) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    client.post(
        f"/api/orgs/{org_id}/rules/versions", json={"document": simple_rules(), "activate": True}
    )
    from core.context import JobContext

    run_evaluation(JobContext(settings, session_factory, None), org_id, None)
    # The first run of a rule set activated through the API waits for approval.
    listing = client.get(f"/api/orgs/{org_id}/actions?status=awaiting_approval").json["actions"]
    assert [(a["kind"], a["target"], a["status"]) for a in listing] == [
        ("reminder", "customer:C1", "awaiting_approval")
    ]
    detail = client.get(f"/api/orgs/{org_id}/actions/{listing[0]['id']}").json
    assert detail["explanation"]["rule_set"] == "Test rules"
    assert {i["invoice"] for i in detail["explanation"]["items"]} == {"I1", "I2"}

    # A decision's lists are ids or "all": a null one is refused, not read as "none".
    approvals = f"/api/orgs/{org_id}/approvals"
    refused = client.post(approvals, json={"approve": [listing[0]["id"]], "reject": None})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"reject"}
    assert client.get(approvals).json["actions"][0]["id"] == listing[0]["id"]  # still waiting
    decided = client.post(approvals, json={"reject": [listing[0]["id"]]})
    assert decided.status_code == 200 and client.get(approvals).json["actions"] == []


def test_pauses_and_customer_state(client, session_factory, redis) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    base = f"/api/orgs/{org_id}"
    dispute = client.post(f"{base}/disputes", json={"invoice": "I1", "reason": "pricing"})
    assert dispute.status_code == 201 and dispute.json["customer"] == "C1"
    assert client.post(f"{base}/disputes", json={"invoice": "I1", "reason": "bored"}).json[
        "errors"
    ] == {
        "reason": "Must be one of: pricing, quality, not_received, duplicate, already_paid, other."
    }
    closed = client.post(
        f"{base}/disputes/{dispute.json['id']}/close", json={"resolution": "credited"}
    )
    assert closed.json["closed_on"] == utcnow().date().isoformat()
    until = (utcnow().date() + timedelta(days=5)).isoformat()
    promise = client.post(
        f"{base}/promises", json={"customer": "C1", "until": until, "invoices": ["I2"]}
    )
    assert promise.status_code == 201 and promise.json["balance"] == "50.0000"
    plan = client.post(
        f"{base}/payment-plans",
        json={
            "customer": "C1",
            "invoices": ["I1"],
            "instalments": [
                {"due_on": until, "amount": "50"},
                {"due_on": "2099-01-01", "amount": "50"},
            ],
        },
    )
    assert plan.status_code == 201 and plan.json["start_balance"] == "100.0000"
    profile = client.put(
        f"{base}/customers/C1/profile", json={"tags": ["vip", "vip"], "do_not_contact": True}
    )
    assert profile.json["tags"] == ["vip"] and profile.json["do_not_contact"] is True
    assert client.get(f"{base}/customers/C1/profile").json["do_not_contact"] is True
    for not_a_flag in (0.0, 1, "yes", "true"):
        refused = client.put(f"{base}/customers/C1/profile", json={"credit_hold": not_a_flag})
        assert refused.status_code == 422, not_a_flag  # JSON true or false only
        assert refused.json["errors"] == {"credit_hold": "must be true or false"}
    queued = Queue("rules", connection=redis).jobs
    assert {j.func_name for j in queued} == {"rules.jobs.evaluate_customers"}
    assert [j.args for j in queued] == [(org_id, ["C1"])]  # coalesced: one waiting job


def test_other_organizations_are_not_reachable(client, session_factory) -> None:
    org_id = seed(session_factory)
    other = seed(session_factory, external_id="realm-2")
    sign_in(client, org_id)
    assert client.get(f"/api/orgs/{other}/rules").status_code == 404
    assert client.post(f"/api/orgs/{other}/rules/preview", json={}).status_code == 404
    assert client.get(f"/api/orgs/{other}/actions").status_code == 404


def test_posts_need_the_csrf_token(app, session_factory) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    org_id = seed(session_factory)
    sign_in(client, org_id)
    url = f"/api/orgs/{org_id}/rules/validate"
    refused = client.post(url, json={"document": simple_rules()})
    assert refused.status_code == 400
    token = client.get(f"/api/orgs/{org_id}/rules/csrf").json["csrf_token"]
    accepted = client.post(url, json={"document": simple_rules()}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
