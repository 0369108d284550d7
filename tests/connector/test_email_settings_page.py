"""The email settings page as an admin uses it: field errors, the write-only password, and the
test email arriving in a real SMTP server's mailbox."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import text

from connector import create_app
from core.db import session_scope
from core.models import Organization
from outbox.email import settings as email_settings
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.mail import PASSWORD
from tests.mail import USERNAME

SECRET = "Sm7p-pa55word!"


def signed_in_org(client, session_factory) -> int:
    org_id = make_org(session_factory, "xero", "Harbour Joinery")
    sign_in(client, org_id)
    return org_id


def csrf(client, org_id: int) -> str:
    page = client.get(f"/orgs/{org_id}/email").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, org_id: int, path: str = "", **form):
    data = {"csrf_token": csrf(client, org_id), **form}
    return client.post(f"/orgs/{org_id}/email{path}", data=data)


def flashes(client, org_id: int) -> str:
    page = client.get(f"/orgs/{org_id}/email").get_data(as_text=True)
    return html.unescape(
        " ".join(re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', page))
    )


def own_server(mail, **overrides) -> dict[str, str]:
    form = {
        "host": mail.host,
        "port": str(mail.port),
        "security": "none",
        "from_address": "ar@harbour.test",
        "reply_to": "accounts@harbour.test",
    }
    form.update(overrides)
    return form


def test_the_admin_page_links_to_the_email_settings(client, session_factory):
    org_id = signed_in_org(client, session_factory)
    with session_scope(session_factory) as session:
        session.get(Organization, org_id).status = "connected"
    assert f'href="/orgs/{org_id}/email"' in client.get("/").get_data(as_text=True)


def test_every_bad_field_is_named_and_nothing_is_saved(client, session_factory):
    org_id = signed_in_org(client, session_factory)
    response = post(
        client,
        org_id,
        host="not a host!",
        port="soon",
        security="ssl",
        from_address="nobody",
        from_name="Two\nlines",
    )
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    for field, problem in [
        ("reply_to", "is needed: customers' replies go to this address"),
        ("host", "must be a host name"),
        ("port", "Not a valid integer."),
        ("security", "Must be one of: starttls, tls, none."),
        ("from_address", "Not a valid email address."),
        ("from_name", "must be on one line"),
    ]:
        assert re.search(rf'id="{field}-error">[^<]*{re.escape(problem)}', page), field
    assert 'value="not a host!"' in page  # what was typed stays in the form
    with session_scope(session_factory) as session:
        assert email_settings.load(session, org_id) is None


def test_a_from_address_needs_an_own_server(client, session_factory):
    org_id = signed_in_org(client, session_factory)
    response = post(client, org_id, from_address="ar@harbour.test", reply_to="a@harbour.test")
    assert response.status_code == 422
    assert "needs your own mail server" in response.get_data(as_text=True)


def stored_password(client, session_factory, org_id: int) -> tuple[str, str]:
    """(the ciphertext in the table, the password it decrypts to)."""
    settings = client.application.extensions["dunwell"]["settings"]
    with session_scope(session_factory) as session:
        ciphertext = session.execute(text("SELECT password_ciphertext FROM email_settings"))
        ciphertext = ciphertext.scalar_one()
        setup = email_settings.effective(session, session.get(Organization, org_id), settings)
        return ciphertext, setup.smtp.password


def test_the_password_is_write_only(client, session_factory, mail):
    org_id = signed_in_org(client, session_factory)
    response = post(client, org_id, **own_server(mail, username="ar", password=SECRET))
    assert response.status_code == 302
    page = client.get(f"/orgs/{org_id}/email").get_data(as_text=True)
    assert SECRET not in page
    assert "A password is stored (encrypted)" in page
    assert re.search(r'name="password" type="password"[^>]* value=""', page)
    ciphertext, password = stored_password(client, session_factory, org_id)
    assert SECRET not in ciphertext and password == SECRET
    assert post(client, org_id, **own_server(mail, username="ar", password="")).status_code == 302
    assert stored_password(client, session_factory, org_id)[1] == SECRET


def test_the_test_email_arrives_in_the_mailbox(client, session_factory, mail):
    org_id = signed_in_org(client, session_factory)
    assert post(client, org_id, **own_server(mail)).status_code == 302
    response = post(client, org_id, "/test", to="owner@harbour.test")
    assert response.status_code == 302
    [received] = mail.mailbox.messages("owner@harbour.test")
    assert received["from"] == "Harbour Joinery <ar@harbour.test>"
    assert received["subject"] == "Test email from Dunwell for Harbour Joinery"
    assert ("Reply-To", "accounts@harbour.test") in [tuple(h) for h in received["headers"]]
    reference = f"2.0.0 OK: queued as {received['queue_id']}"
    expected = f"Test email sent to owner@harbour.test (server reference: {reference})."
    assert expected in flashes(client, org_id)


def test_a_refused_test_email_shows_the_servers_answer(client, session_factory, mail):
    org_id = signed_in_org(client, session_factory)
    post(client, org_id, **own_server(mail))
    mail.mailbox.refuse("owner@harbour.test", 550, "5.1.1 no such mailbox")
    post(client, org_id, "/test", to="owner@harbour.test")
    shown = flashes(client, org_id)
    assert "The test email was not sent. The mail server said: every recipient" in shown
    assert "owner@harbour.test: 550 5.1.1 no such mailbox" in shown


def test_a_test_email_without_any_server_says_what_to_do(client, session_factory):
    org_id = signed_in_org(client, session_factory)
    post(client, org_id, "/test", to="owner@harbour.test")
    assert "No test email sent: No mail server is set up" in flashes(client, org_id)


def test_a_test_email_needs_an_address(client, session_factory):
    org_id = signed_in_org(client, session_factory)
    response = post(client, org_id, "/test", to="owner")
    assert response.status_code == 422
    assert 'id="test_to-error">Not a valid email address.' in response.get_data(as_text=True)


@pytest.fixture
def platform_client(settings, database_url, redis, tls_mail):
    """The web app with a platform mail server (STARTTLS and a login) from SMTP_URL."""
    app = create_app(
        settings.with_changes(
            database_url=database_url,
            smtp=tls_mail.settings(USERNAME, PASSWORD),
            mail_from="Dunwell <reminders@mail.dunwell.test>",
        )
    )
    yield app.test_client()
    app.extensions["dunwell"]["engine"].dispose()


def test_the_test_email_goes_through_the_platform_server(
    platform_client, session_factory, tls_mail
):
    org_id = signed_in_org(platform_client, session_factory)
    post(platform_client, org_id, reply_to="accounts@harbour.test", from_name="Harbour Accounts")
    post(platform_client, org_id, "/test", to="owner@harbour.test")
    [received] = tls_mail.mailbox.messages()
    assert received["from"] == "Harbour Accounts <reminders@mail.dunwell.test>"
    assert "Test email sent" in flashes(platform_client, org_id)
