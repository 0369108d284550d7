"""The unsubscribe link of a reminder, through the web app: the confirmation page, the RFC 8058
one-click POST, and links that were tampered with."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.db import session_scope
from core.models import Customer
from outbox.email.unsubscribe import make_token
from outbox.email.unsubscribe import read_token
from outbox.email.unsubscribe import unsubscribe_url
from rules.models import CustomerProfile
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in

CUSTOMER = "C-17"


def setup_org(session_factory) -> int:
    org_id = make_org(session_factory, "quickbooks", "Harbour Joinery", timezone="Pacific/Auckland")
    with session_scope(session_factory) as session:
        session.add(
            Customer(
                organization_id=org_id,
                external_id=CUSTOMER,
                name="Bea's Bakery",
                email="bea@bakery.test",
                version="1",
                updated_at=datetime.now(UTC),
            )
        )
    return org_id


def link(settings, org_id: int, customer: str = CUSTOMER) -> str:
    return f"/unsubscribe/{make_token(settings.secret_key, org_id, customer)}"


def profile(session_factory, org_id: int, customer: str = CUSTOMER) -> CustomerProfile | None:
    with session_scope(session_factory) as session:
        return session.scalar(
            select(CustomerProfile).where(
                CustomerProfile.organization_id == org_id,
                CustomerProfile.customer_external_id == customer,
            )
        )


def test_the_token_names_the_organization_and_the_customer(settings):
    token = make_token(settings.secret_key, 12, "C-17")
    assert read_token(settings.secret_key, token) == (12, "C-17")
    url = unsubscribe_url("https://dunwell.test/", settings.secret_key, 12, "C-17")
    assert url == f"https://dunwell.test/unsubscribe/{token}"


def test_the_page_asks_first_and_changes_nothing(client, session_factory, settings):
    org_id = setup_org(session_factory)
    response = client.get(link(settings, org_id))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Stop payment reminders from Harbour Joinery?" in page
    assert "Bea&#39;s Bakery will no longer receive" in page
    assert re.search(r'<form method="post" action="/unsubscribe/[^"]+">', page)
    assert "<script" not in page and "style=" not in page and "<style" not in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert profile(session_factory, org_id) is None


def test_pressing_the_button_sets_do_not_contact_with_the_date(client, session_factory, settings):
    org_id = setup_org(session_factory)
    response = client.post(link(settings, org_id))
    assert response.status_code == 200
    assert "Reminders stopped" in response.get_data(as_text=True)
    row = profile(session_factory, org_id)
    assert row.do_not_contact
    today = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Auckland"))
    assert row.do_not_contact_reason == f"asked to stop by email on {today.date().isoformat()}"
    assert client.get(link(settings, org_id)).get_data(as_text=True).count("Reminders stopped") == 2


def test_the_one_click_post_of_a_mail_client_needs_no_csrf_token(client, session_factory, settings):
    org_id = setup_org(session_factory)
    response = client.post(
        link(settings, org_id),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert profile(session_factory, org_id).do_not_contact


def test_a_second_request_keeps_the_first_reason(client, session_factory, settings):
    org_id = setup_org(session_factory)
    with session_scope(session_factory) as session:
        session.add(
            CustomerProfile(
                organization_id=org_id,
                customer_external_id=CUSTOMER,
                tags=["vip"],
                do_not_contact=True,
                do_not_contact_reason="asked by phone",
            )
        )
    assert client.post(link(settings, org_id)).status_code == 200
    row = profile(session_factory, org_id)
    assert (row.do_not_contact_reason, row.tags) == ("asked by phone", ["vip"])


def test_a_tampered_or_foreign_link_is_a_400_a_person_understands(
    client, session_factory, settings
):
    org_id = setup_org(session_factory)
    good = link(settings, org_id)
    for bad in (
        good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        good.replace(good.split("/")[-1].split(".")[0], "WzEsIkMtMSJd"),
        f"/unsubscribe/{make_token('another-secret-key-0123456789', org_id, CUSTOMER)}",
        "/unsubscribe/nonsense",
    ):
        for method in (client.get, client.post):
            response = method(bad)
            assert response.status_code == 400, bad
            assert "This link is not valid" in response.get_data(as_text=True)
    assert profile(session_factory, org_id) is None


def test_a_link_of_an_organization_that_is_gone_is_a_404(client, session_factory, settings):
    response = client.post(link(settings, 9999))
    assert response.status_code == 404
    assert "no longer uses this service" in response.get_data(as_text=True)


def test_only_this_route_is_exempt_from_csrf(client, session_factory):
    org_id = setup_org(session_factory)
    sign_in(client, org_id)
    response = client.post(f"/orgs/{org_id}/email", data={"reply_to": "a@b.test"})
    assert response.status_code == 400
    assert "The form expired or was not sent from Dunwell" in response.get_data(as_text=True)
