"""The rule editor's pages through the Flask client: a draft built through the forms only,
errors shown at their fields, roles, versions and their diff, the written policy as PDF, and
the form and JSON views saving the same document."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from core.db import session_scope
from core.models import Customer
from core.models import Invoice
from rules.ruleset import store
from rules.ruleset.defaults import starter
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in

SURE = {"confirmed": "yes"}  # the destructive form's question was accepted


def token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path: str, data: dict, form_page: str | None = None):
    return client.post(path, data={"csrf_token": token(client, form_page or path), **data})


@pytest.fixture
def org_id(client, session_factory) -> int:
    org_id = make_org(
        session_factory, "quickbooks", "4410", last_synced_at=datetime.now(UTC),
        timezone="UTC", currency="USD",
    )  # fmt: skip
    with session_scope(session_factory) as db:
        now = datetime.now(UTC)
        for cid, name in (("C1", "Acme Ltd"), ("C2", "Birch GmbH")):
            db.add(Customer(organization_id=org_id, external_id=cid, version="0",
                            updated_at=now, name=name, email=f"ap@{cid.lower()}.test"))  # fmt: skip
        db.add(
            Invoice(organization_id=org_id, external_id="I1", version="0", updated_at=now,
                    customer_external_id="C1", number="1001", currency="USD",
                    issue_date=date.today() - timedelta(days=40),
                    due_date=date.today() - timedelta(days=10),
                    total=Decimal("1500.00"), balance=Decimal("1500.00"), status="open")
        )  # fmt: skip
    sign_in(client, org_id, email="pat@example.com")
    return org_id


def start_draft(client, org_id: int, source: str = "empty") -> int:
    rules = f"/orgs/{org_id}/rules"
    response = post(client, f"{rules}/drafts", {"from": source}, rules)
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


def build_policy_through_forms(client, org_id: int) -> str:
    """Three steps, a template with a placeholder, a hold threshold, a 2%/10-day discount."""
    number = start_draft(client, org_id)
    base = f"/orgs/{org_id}/rules/drafts/{number}"
    assert post(client, f"{base}/templates/new", {
        "name": "Friendly", "subject": "Invoices from {{ organization.name }}",
        "body": "Dear {{ customer.name }},\n\nPlease pay.\n",
    }).status_code == 302  # fmt: skip
    assert post(client, f"{base}/policies", {"name": "Standard"}, base).status_code == 302
    steps = f"{base}/policies/standard/steps"
    for name, timing, days in (("Due soon", "before", "3"), ("A week late", "after", "7"),
                               ("A month late", "after", "30")):  # fmt: skip
        response = post(client, f"{steps}/new", {
            "name": name, "timing": timing, "days": days,
            "reminder": "on", "reminder.template": "friendly",
        })  # fmt: skip
        assert response.status_code == 302, response.get_data(as_text=True)
    post(client, f"{steps}/due/delete", SURE, base)
    settings = {
        "discounts.early_payment.enabled": "on",
        "discounts.early_payment.percent": "2",
        "discounts.early_payment.days": "10",
        "discounts.early_payment.offer_in_reminders": "on",
        "credit_hold.place_when_any[0].fact": "customer_total_overdue",
        "credit_hold.place_when_any[0].op": "gte",
        "credit_hold.place_when_any[0].value": "5000",
        "credit_hold.place_when_any[0].currency": "USD",
        "credit_hold.reason": "Over the limit",
        "limits.caps[0].messages": "1",
        "limits.caps[0].days": "3",
        "limits.quiet_hours.start": "20:00",
        "limits.quiet_hours.end": "08:00",
        "limits.business_days": ["mon", "tue", "wed", "thu", "fri"],
        "limits.timezone_from": "customer",
        "limits.approve_runs_over": "25",
        "payment_plans.remind_days_before": "3, 0",
        "payment_plans.grace_days": "0",
        "unapplied_credit.pause_when_covered": "on",
        "invoice_delivery.after_days": "0",
    }
    response = post(client, f"{base}/settings", settings)
    assert response.status_code == 302, response.get_data(as_text=True)
    return base


def test_a_policy_built_through_the_forms_is_the_document_the_json_view_saves(
    client, org_id, session_factory
):
    base = build_policy_through_forms(client, org_id)
    number = int(base.rsplit("/", 1)[1])
    with session_scope(session_factory) as db:
        built = store.get_version(db, org_id, number).document
    steps = built["policies"][0]["steps"]
    assert [s["offset_days"] for s in steps] == [-3, 7, 30]
    assert [s["name"] for s in steps] == ["Due soon", "A week late", "A month late"]
    assert built["default_policy"] == "standard"
    assert built["discounts"]["early_payment"]["percent"] == "2"
    assert built["discounts"]["early_payment"]["days"] == 10
    hold = built["credit_hold"]["place_when_any"][0]
    assert hold == {
        "fact": "customer_total_overdue",
        "op": "gte",
        "value": "5000",
        "currency": "USD",
    }
    page = client.get(base).get_data(as_text=True)
    assert "3 days before the due date" in page and "30 days after the due date" in page

    rules = f"/orgs/{org_id}/rules"
    saved = post(client, rules, {"document": json.dumps(built), "action": "save", "activate": "on"})
    assert saved.status_code == 302
    with session_scope(session_factory) as db:
        owner = store.rule_set(db, org_id)
        assert store.get_version(db, org_id, owner.active_number).document == built


def test_a_problem_is_shown_at_its_field_and_nothing_is_saved(client, org_id, session_factory):
    number = start_draft(client, org_id, "starter")
    base = f"/orgs/{org_id}/rules/drafts/{number}"
    step = f"{base}/policies/standard/steps/overdue-7"
    response = post(client, step, {"name": "A week overdue", "timing": "after", "days": "soon",
                                   "reminder": "on", "reminder.template": "firm"})  # fmt: skip
    assert response.status_code == 422
    assert re.search(r'id="f-days-error">[^<]*Not a valid integer', response.get_data(as_text=True))
    response = post(client, step, {"name": "A week overdue", "timing": "after", "days": "8",
                                   "reminder": "on", "reminder.template": "nowhere"})  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-reminder-template-error">[^<]*template &#39;nowhere&#39;', page)
    settings = post(client, f"{base}/settings", {
        "discounts.early_payment.enabled": "on", "discounts.early_payment.percent": "150",
        "discounts.early_payment.days": "10", "limits.business_days": ["mon"],
    })  # fmt: skip
    assert settings.status_code == 422
    assert 'id="f-discounts-early_payment-percent-error"' in settings.get_data(as_text=True)
    with session_scope(session_factory) as db:
        document = store.get_version(db, org_id, number).document
    assert document["policies"][0]["steps"][2]["offset_days"] == 7
    assert document["discounts"]["early_payment"] is None


def test_a_template_previews_for_a_real_customer_and_names_an_undefined_placeholder(client, org_id):
    number = start_draft(client, org_id, "starter")
    path = f"/orgs/{org_id}/rules/drafts/{number}/templates/preview"
    form = f"/orgs/{org_id}/rules/drafts/{number}/templates/friendly"
    page = client.get(form).get_data(as_text=True)
    assert "Acme Ltd" in page and "data-insert=" in page
    body = "{% for i in invoices %}{{ i.number }} {{ i.balance|money }}{% endfor %}"
    response = post(client, path, {"subject": "Hello {{ customer.name }}", "body": body,
                                   "customer": "C1"}, form)  # fmt: skip
    html = response.get_data(as_text=True)
    assert "Hello Acme Ltd" in html and "1001 1,500.00" in html
    broken = post(
        client,
        path,
        {"subject": "Hi {{ custmer.name }}", "body": "{% if %}", "customer": "C1"},
        form,
    )
    text = broken.get_data(as_text=True)
    assert "custmer" in text and "is undefined" in text and "syntax error" in text


def test_versions_diff_in_words_activate_and_the_written_policy_pdf(
    client, org_id, session_factory
):
    rules = f"/orgs/{org_id}/rules"
    assert (
        post(
            client, rules, {"document": json.dumps(starter()), "action": "save", "activate": "on"}
        ).status_code
        == 302
    )
    base = build_policy_through_forms(client, org_id)
    number = int(base.rsplit("/", 1)[1])
    listing = client.get(f"{rules}/versions?a=1&b={number}").get_data(as_text=True)
    assert "draft" in listing and "active" in listing
    assert "Early-payment discount changed" in listing
    assert "2% off if paid within 10 days" in listing
    assert "Added template “friendly”" not in listing  # the starter has one of that name already
    assert (
        post(client, f"{rules}/versions/{number}/activate", SURE, f"{rules}/versions").status_code
        == 302
    )
    with session_scope(session_factory) as db:
        assert store.rule_set(db, org_id).active_number == number
    # an activated version is frozen: its forms answer 409
    assert client.get(base).status_code == 409
    written = client.get(f"{rules}/written").get_data(as_text=True)
    assert f"version {number}" in written and "2% off if paid within 10 days" in written
    pdf = client.get(f"{rules}/written.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert (
        f"Version {number}" in text and "customer's total overdue in USD is at least 5000" in text
    )


def test_a_viewer_reads_the_editor_but_cannot_save(client, org_id, session_factory):
    number = start_draft(client, org_id, "starter")
    sign_in(client, org_id, role="viewer", email="val@example.com")
    base = f"/orgs/{org_id}/rules/drafts/{number}"
    assert client.get(base).status_code == 200
    response = post(client, f"{base}/policies", {"name": "Other"}, base)
    assert response.status_code == 403


def test_preview_and_backtest_pages(client, org_id):
    number = start_draft(client, org_id, "starter")
    preview = client.get(f"/orgs/{org_id}/rules/versions/{number}/preview")
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "Acme Ltd" in page and "Why" in page and "Invoice 1001" in page
    backtest = client.get(f"/orgs/{org_id}/rules/versions/{number}/backtest?months=1")
    assert backtest.status_code == 200
    assert "What the replay can only approximate" in backtest.get_data(as_text=True)
    chart = client.get(f"/orgs/{org_id}/rules/versions/{number}/backtest.svg?months=1")
    assert chart.status_code == 200 and chart.data.startswith(b"<?xml")


def test_send_a_test_to_me_arrives_as_the_customer_would_read_it(client, org_id, mail):
    email = f"/orgs/{org_id}/email"
    server = {"host": mail.host, "port": str(mail.port), "security": "none",
              "from_address": "ar@4410.test", "reply_to": "accounts@4410.test"}  # fmt: skip
    assert post(client, email, server).status_code == 302
    number = start_draft(client, org_id, "starter")
    form = f"/orgs/{org_id}/rules/drafts/{number}/templates/friendly"
    response = post(client, f"/orgs/{org_id}/rules/drafts/{number}/templates/test", {
        "subject": "Hello {{ customer.name }}", "body": "Invoice {{ invoices[0].number }}\n",
        "customer": "C1", "back": form,
    }, form)  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith(form)
    [received] = mail.mailbox.messages("pat@example.com")
    assert received["subject"] == "Hello Acme Ltd"
    assert received["text"].startswith("Invoice 1001")
    assert "<p>Invoice 1001</p>" in received["html"]
    assert mail.mailbox.messages("ap@c1.test") == []  # never to the customer
    page = client.get(form).get_data(as_text=True)
    assert "Test sent to pat@example.com" in page


def test_segments_show_how_many_customers_each_takes_today(client, org_id, session_factory):
    from rules.models import CustomerProfile

    with session_scope(session_factory) as db:
        db.add(CustomerProfile(organization_id=org_id, customer_external_id="C2", tags=["vip"]))
    number = start_draft(client, org_id, "starter")
    base = f"/orgs/{org_id}/rules/drafts/{number}"
    response = post(client, f"{base}/segments/new", {
        "name": "Key accounts", "policy": "standard", "match.tags_any": "vip, key",
    })  # fmt: skip
    assert response.status_code == 302
    page = client.get(base).get_data(as_text=True)
    assert re.search(r'data-segment="key-accounts">1<', page)
    assert re.search(r'data-segment="">1<', page)
    bad = post(client, f"{base}/segments/key-accounts", {
        "name": "Key accounts", "policy": "standard", "match.currencies": "dollars",
        "match.billed_12m_min": "lots",
    })  # fmt: skip
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="f-match-currencies-error"' in text and 'id="f-match-billed_12m_min-error"' in text


def test_a_version_saved_inactive_stays_as_an_editable_draft_and_any_version_rolls_back(
    client, org_id, session_factory
):
    rules = f"/orgs/{org_id}/rules"
    first = starter()
    assert post(client, rules, {"document": json.dumps(first), "action": "save",
                                "activate": "on"}).status_code == 302  # fmt: skip
    second = starter()
    second["name"] = "Kinder collections"
    assert post(client, rules, {"document": json.dumps(second), "action": "save",
                                "note": "softer"}).status_code == 302  # fmt: skip
    page = client.get(rules).get_data(as_text=True)
    assert "Version 1 is active." in page
    assert f'href="{rules}/drafts/2">Draft version 2</a> — softer' in page
    assert client.get(f"{rules}/drafts/2").status_code == 200
    activate = post(client, f"{rules}/versions/2/activate", SURE, f"{rules}/versions")
    assert activate.status_code == 302
    activate = post(client, f"{rules}/versions/1/activate", SURE, f"{rules}/versions")
    assert activate.status_code == 302
    listing = client.get(f"{rules}/versions").get_data(as_text=True)
    assert re.search(r'data-version="2">.*?was active', listing, re.S)
    with session_scope(session_factory) as db:
        assert store.rule_set(db, org_id).active_number == 1
    assert client.get(f"{rules}/drafts/2").status_code == 409  # frozen once it was active
    assert client.get(f"{rules}/drafts/9").status_code == 404


def test_the_editor_templates_have_no_inline_script_handler_or_style():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "connector" / "templates" / "policy"
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)|<style|\son[a-z]+\s*=|\sstyle\s*=|javascript:", re.I
    )
    served = [p for p in sorted(folder.glob("*.html")) if p.name != "written_pdf.html"]
    found = {p.name: inline.findall(p.read_text()) for p in served}
    assert len(found) >= 10 and not any(found.values()), found


def test_what_a_template_says_is_shown_as_text_in_the_preview(client, org_id):
    number = start_draft(client, org_id, "starter")
    form = f"/orgs/{org_id}/rules/drafts/{number}/templates/friendly"
    nasty = '<script>alert(1)</script> <img src=x onerror="alert(2)"> javascript:alert(3)'
    response = post(client, f"/orgs/{org_id}/rules/drafts/{number}/templates/preview",
                    {"subject": nasty, "body": nasty + "\n", "customer": "C1"}, form)  # fmt: skip
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_segment_being_typed_counts_its_customers(client, org_id, session_factory):
    from rules.models import CustomerProfile

    with session_scope(session_factory) as db:
        for cid in ("C1", "C2"):
            db.add(CustomerProfile(organization_id=org_id, customer_external_id=cid, tags=["vip"]))
    number = start_draft(client, org_id, "starter")
    form = f"/orgs/{org_id}/rules/drafts/{number}/segments/new"
    count = f"/orgs/{org_id}/rules/drafts/{number}/segments/count"
    both = post(client, count, {"policy": "standard", "match.tags_any": "vip"}, form)
    assert "<strong>2</strong> of today's customers match it" in both.get_data(as_text=True)
    none = post(client, count, {"policy": "standard", "match.tags_any": "nobody"}, form)
    assert "<strong>0</strong> of today's customers match it" in none.get_data(as_text=True)
    bad = post(client, count, {"match.currencies": "dollars"}, form)
    assert "Fix the fields" in bad.get_data(as_text=True)


def test_a_step_on_the_day_of_another_is_named_at_its_days(client, org_id):
    number = start_draft(client, org_id, "starter")
    steps = f"/orgs/{org_id}/rules/drafts/{number}/policies/standard/steps"
    form = {"name": "Also a week", "timing": "after", "days": "7", "reminder": "on",
            "reminder.template": "firm"}  # fmt: skip
    response = post(client, f"{steps}/new", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-days-error">another step of this policy is on that day', page)
    assert "Other parts of the draft need fixing" not in page
