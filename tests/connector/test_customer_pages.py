"""Customers: the list (search, filters, order, paging), a customer's page, the collector's
controls by invoice number, and the contact-history export, on tests/insights/seed.py's org."""

from __future__ import annotations

import csv
import io
from datetime import date

from sqlalchemy import select

from core.db import session_scope
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules.models import CustomerProfile
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay
from tests.connector.test_dashboard_page import seeded


def sessions(client):
    return client.application.extensions["dunwell"]["sessions"]


def names_in_order(html: str) -> list[str]:
    return [n for n in ("Birch GmbH", "Acme Ltd", "Cedar &amp; Sons") if n in html]


def form(client, org_id: int, **fields) -> dict:
    page = client.get(f"/orgs/{org_id}/customers/A")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return {"csrf_token": token, **fields}


def test_the_list_is_sorted_by_overdue_and_filters(client):
    org_id = seeded(client)
    html = client.get(f"/orgs/{org_id}/customers").text
    assert html.index("Birch GmbH") < html.index("Acme Ltd") < html.index("Cedar &amp; Sons")
    assert names_in_order(client.get(f"/orgs/{org_id}/customers?q=acm").text) == ["Acme Ltd"]
    assert names_in_order(client.get(f"/orgs/{org_id}/customers?on_hold=1").text) == ["Acme Ltd"]
    assert names_in_order(client.get(f"/orgs/{org_id}/customers?disputed=1").text) == ["Birch GmbH"]
    assert names_in_order(client.get(f"/orgs/{org_id}/customers?tag=key-account").text) == [
        "Acme Ltd"
    ]
    owner = client.get(f"/orgs/{org_id}/customers?owner=sam@larkspur.test").text
    assert names_in_order(owner) == ["Acme Ltd"]
    # the seed's invoices are all past due by now: none is in the "not yet due" bucket
    assert names_in_order(client.get(f"/orgs/{org_id}/customers?bucket=current").text) == []
    assert "Cedar &amp; Sons" in client.get(f"/orgs/{org_id}/customers?bucket=90%2B").text
    paged = client.get(f"/orgs/{org_id}/customers?page=9").text  # past the end: the last page
    assert "Birch GmbH" in paged and "3 in all" in paged


def test_a_customers_page_shows_invoices_timeline_and_controls(client):
    org_id = seeded(client)
    html = client.get(f"/orgs/{org_id}/customers/C").text
    assert "Cedar &amp; Sons" in html and '<th scope="row">C-2</th>' in html
    assert "Payment of 800.00 USD" in html  # the timeline
    assert "Promise to pay by 2026-03-31" in html
    assert client.get(f"/orgs/{org_id}/customers/NOPE").status_code == 404


def test_open_a_dispute_by_invoice_number(client):
    org_id = seeded(client)
    sent = client.post(
        f"/orgs/{org_id}/customers/A/disputes",
        data=form(client, org_id, invoice="A-2", reason="quality", note="scratched"),
    )
    assert sent.status_code == 303
    with session_scope(sessions(client)) as db:
        dispute = db.scalars(select(Dispute).where(Dispute.invoice_external_id == "A-2")).one()
        assert (dispute.reason, dispute.note, dispute.closed_on) == ("quality", "scratched", None)
    closed = client.post(
        f"/orgs/{org_id}/customers/A/disputes/close",
        data=form(client, org_id, invoice="A-2", resolution="credited"),
    )
    assert closed.status_code == 303
    with session_scope(sessions(client)) as db:
        dispute = db.scalars(select(Dispute).where(Dispute.invoice_external_id == "A-2")).one()
        assert dispute.closed_on is not None and dispute.resolution == "credited"


def test_a_wrong_invoice_number_comes_back_with_the_problem_and_what_was_typed(client):
    org_id = seeded(client)
    sent = client.post(
        f"/orgs/{org_id}/customers/A/disputes",
        data=form(client, org_id, invoice="B-1", reason="quality", note="typed note"),
    )
    assert sent.status_code == 422
    assert "Acme Ltd has no invoice numbered B-1" in sent.text
    assert 'value="typed note"' in sent.text
    with session_scope(sessions(client)) as db:
        assert db.scalars(select(Dispute).where(Dispute.customer_external_id == "A")).all() == []


def test_record_a_promise_and_a_plan_and_cancel_them(client):
    org_id = seeded(client)
    today = date.today()
    until = date(today.year + 1, 1, 31).isoformat()
    sent = client.post(
        f"/orgs/{org_id}/customers/A/promises",
        data=form(client, org_id, until=until, amount="150.00", invoices=["A-1"]),
    )
    assert sent.status_code == 303, sent.text
    plan = client.post(
        f"/orgs/{org_id}/customers/A/plans",
        data=form(client, org_id, invoices=["A-1", "A-2"], due_1=until, amount_1="450",
                  due_2=f"{today.year + 1}-02-28", amount_2="450"),
    )  # fmt: skip
    assert plan.status_code == 303, plan.text
    with session_scope(sessions(client)) as db:
        promise = db.scalars(select(PromiseToPay).where(PromiseToPay.customer_external_id == "A"))
        promise = promise.one()
        assert (promise.invoice_external_ids, str(promise.amount)) == (["A-1"], "150.0000")
        made = db.scalars(select(PaymentPlan).where(PaymentPlan.customer_external_id == "A")).one()
        assert [str(i.amount) for i in made.instalments] == ["450.0000", "450.0000"]
        assert str(made.start_balance) == "900.0000"
        created_on = made.created_on.isoformat()
    half = client.post(
        f"/orgs/{org_id}/customers/A/plans",
        data=form(client, org_id, invoices=["A-1"], due_1=until),
    )
    assert half.status_code == 422 and "give both its date and its amount" in half.text
    assert (
        client.post(
            f"/orgs/{org_id}/customers/A/promises/cancel", data=form(client, org_id, until=until)
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/orgs/{org_id}/customers/A/plans/cancel",
            data=form(client, org_id, created_on=created_on),
        ).status_code
        == 303
    )
    with session_scope(sessions(client)) as db:
        assert db.scalars(select(PromiseToPay.cancelled_on).where(
            PromiseToPay.customer_external_id == "A")).one() is not None  # fmt: skip
        assert db.scalars(select(PaymentPlan.cancelled_on)).one() is not None


def test_hold_by_hand_is_an_outbox_action_and_the_profile_says_a_person_decided(client):
    org_id = seeded(client)
    sent = client.post(
        f"/orgs/{org_id}/customers/B/hold",
        data=form(client, org_id, on_hold="1", reason="ninety days late"),
    )
    assert sent.status_code == 303
    with session_scope(sessions(client)) as db:
        action = db.scalars(select(Action).where(Action.customer_external_id == "B")).one()
        assert (action.rule, action.kind, action.status) == ("manual", "credit_hold", S.PLANNED)
        assert action.payload == {"customer": "B", "on_hold": True, "reason": "ninety days late"}
        profile = db.scalars(
            select(CustomerProfile).where(CustomerProfile.customer_external_id == "B")
        ).one()
        assert profile.credit_hold and profile.credit_hold_source == "manual"
        assert profile.credit_hold_changed_at > action.created_at
    assert "on credit hold" in client.get(f"/orgs/{org_id}/customers/B").text


def test_do_not_contact_owner_and_tags(client):
    org_id = seeded(client)
    assert (
        client.post(
            f"/orgs/{org_id}/customers/C/contact",
            data=form(client, org_id, do_not_contact="1", reason="asked us to stop"),
        ).status_code
        == 303
    )
    bad = client.post(
        f"/orgs/{org_id}/customers/C/profile",
        data=form(client, org_id, owner="not an email", tags="a"),
    )
    assert bad.status_code == 422 and "is not an email address" in bad.text
    good = client.post(
        f"/orgs/{org_id}/customers/C/profile",
        data=form(client, org_id, owner="Jo@Larkspur.test", tags="retail, vip ,retail"),
    )
    assert good.status_code == 303
    with session_scope(sessions(client)) as db:
        profile = db.scalars(
            select(CustomerProfile).where(CustomerProfile.customer_external_id == "C")
        ).one()
        assert (profile.do_not_contact, profile.do_not_contact_reason) == (True, "asked us to stop")
        assert (profile.owner, profile.tags) == ("jo@larkspur.test", ["retail", "vip"])


def test_contact_history_exports_per_customer_and_for_all(client):
    org_id = seeded(client)
    one = client.get(f"/orgs/{org_id}/customers/C/contact-history.csv")
    assert one.status_code == 200 and one.mimetype == "text/csv"
    assert "attachment" in one.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(one.text)))
    assert {r["customer"] for r in rows} == {"Cedar & Sons"}
    assert ("payment", "Payment of 800.00 USD") in {(r["kind"], r["what"]) for r in rows}
    everyone = list(
        csv.DictReader(io.StringIO(client.get(f"/orgs/{org_id}/contact-history.csv").text))
    )
    assert {r["customer"] for r in everyone} == {"Acme Ltd", "Birch GmbH", "Cedar & Sons"}
    dispute = next(r for r in everyone if r["kind"] == "dispute")
    assert (dispute["customer"], dispute["what"]) == ("Birch GmbH", "Dispute opened on invoice B-1")
