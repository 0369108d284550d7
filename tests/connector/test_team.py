"""The team: invitations by email through the SMTP channel (a real mail server), one-time
sign-in links, role changes, and removal ending a member's sessions at once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from connector import create_app
from core.accounts import Invitation
from core.accounts import SignInLink
from core.accounts import User
from core.db import session_scope
from core.db import utcnow
from core.settings import Settings
from core.web_sessions import hash_token
from tests.conftest import dunwell_env
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.connector.identity import people
from tests.connector.identity import roles
from tests.connector.identity import sign_in_with
from tests.connector.identity import signed_in_email
from tests.connector.test_oauth import csrf
from tests.servers import provider_urls
from tests.servers import sandbox_server

LINK = re.compile(r"https?://\S+(/(?:invitations|sign-in/link)/[\w-]+)")


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture
def app(sandbox, mail, database_url, redis, tmp_path):
    env = dunwell_env(
        tmp_path,
        DATABASE_URL=database_url,
        SMTP_URL=mail.url,
        MAIL_FROM="Dunwell <team@dunwell.test>",
        **provider_urls(sandbox),
    )
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    yield app
    app.extensions["dunwell"]["engine"].dispose()


@pytest.fixture
def sessions(app):
    return app.extensions["dunwell"]["sessions"]


@pytest.fixture
def org_id(sessions):
    return make_org(sessions, "xero", "Kiwi Kitchens", status="connected")  # named as its id


@pytest.fixture
def admin(app, org_id):
    client = app.test_client()
    sign_in(client, org_id, role="admin", email="ada@example.com")
    return client


def invite(client, org_id: int, email: str, role: str = "viewer"):
    form = {"csrf_token": csrf(client), "email": email, "role": role}
    return client.post(f"/orgs/{org_id}/team/invitations", data=form)


def link_in(mail, to: str) -> str:
    [message] = mail.mailbox.messages(to)
    return LINK.search(message["text"]).group(1)


def post(client, path: str, **form):
    return client.post(path, data={"csrf_token": csrf(client), **form})


def test_an_invitation_by_email_makes_a_viewer_who_changes_nothing(app, admin, org_id, mail):
    response = invite(admin, org_id, "Vera@Example.com", "viewer")
    assert response.status_code == 302
    [message] = mail.mailbox.messages("vera@example.com")
    assert message["subject"] == "ada@example.com invited you to Kiwi Kitchens on Dunwell"
    assert message["from"] == "Kiwi Kitchens <team@dunwell.test>"
    assert "as a viewer: a viewer may look at everything, but change nothing" in message["text"]
    team = admin.get(f"/orgs/{org_id}/team").get_data(as_text=True)
    assert 'data-invitation="vera@example.com"' in team
    link = link_in(mail, "vera@example.com")

    vera = app.test_client()
    page = vera.get(link)
    assert page.status_code == 200 and "Join as vera@example.com" in page.get_data(as_text=True)
    joined = post(vera, link)
    assert joined.status_code == 302 and joined.headers["Location"] == f"/#org-{org_id}"
    assert signed_in_email(vera) == "vera@example.com"
    assert roles(app.extensions["dunwell"]["sessions"], org_id)["vera@example.com"] == "viewer"
    assert vera.get(f"/api/orgs/{org_id}/summary").status_code == 200
    refused = post(vera, f"/orgs/{org_id}/sync")
    assert refused.status_code == 403 and "You are a viewer" in refused.get_data(as_text=True)
    assert 'data-invitation="vera@example.com"' not in admin.get(f"/orgs/{org_id}/team").text

    again = app.test_client()  # the link is used up
    assert again.get(link).status_code == 410
    assert post(again, link).status_code == 410


def test_an_invitation_accepted_after_signing_in_with_xero(app, admin, org_id, mail, sandbox):
    casey = people(sandbox)[2]
    invite(admin, org_id, casey["email"], "collector")
    link = link_in(mail, casey["email"])
    browser = app.test_client()
    signed = sign_in_with(browser, "xero", casey["key"], next_url=link)
    assert signed.headers["Location"] == link
    page = browser.get(link).get_data(as_text=True)
    assert f"Join as {casey['email']}" in page
    post(browser, link)
    assert roles(app.extensions["dunwell"]["sessions"], org_id)[casey["email"]] == "collector"
    assert browser.get(f"/api/orgs/{org_id}/summary").status_code == 200


def test_an_expired_or_replaced_invitation_opens_nothing(app, admin, org_id, mail, sessions):
    invite(admin, org_id, "old@example.com")
    first = link_in(mail, "old@example.com")
    mail.mailbox.clear()
    invite(admin, org_id, "old@example.com", "collector")  # replaces the first
    second = link_in(mail, "old@example.com")
    assert app.test_client().get(first).status_code == 410
    with session_scope(sessions) as db:
        assert db.query(Invitation).count() == 1
        db.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = app.test_client()
    assert late.get(second).status_code == 410
    assert "Ask whoever invited you" in post(late, second).get_data(as_text=True)


def test_the_token_is_stored_only_as_a_hash(admin, org_id, mail, sessions):
    invite(admin, org_id, "hash@example.com")
    token = link_in(mail, "hash@example.com").rsplit("/", 1)[1]
    with session_scope(sessions) as db:
        [row] = db.query(Invitation).all()
        assert row.token_hash == hash_token(token) and token not in row.token_hash


@pytest.mark.parametrize(
    "email, role, field, words",
    [
        ("not-an-address", "viewer", "email", "Not a valid email address"),
        ("someone@example.com", "owner", "role", "must be one of: viewer, collector, admin"),
        ("ada@example.com", "viewer", "email", "is already a member"),
    ],
)
def test_an_invitation_form_error_names_its_field(admin, org_id, mail, email, role, field, words):
    response = invite(admin, org_id, email, role)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="invite-{field}-error"' in page and words in page
    assert mail.mailbox.messages() == []


def test_an_invitation_the_mail_server_refuses_is_not_kept(admin, org_id, mail, sessions):
    mail.mailbox.refuse("bounce@example.com", 550, "5.1.1 No such mailbox here")
    response = invite(admin, org_id, "bounce@example.com")
    assert response.status_code == 422
    assert "No such mailbox here" in response.get_data(as_text=True)
    with session_scope(sessions) as db:
        assert db.query(Invitation).count() == 0


def test_a_one_time_link_signs_in_once(app, org_id, mail, sessions):
    sign_in(app.test_client(), org_id, role="collector", email="colin@example.com")
    browser = app.test_client()
    asked = post(browser, "/sign-in/email", email="Colin@Example.com")
    assert asked.status_code == 302
    flashed = browser.get("/sign-in").get_data(as_text=True)
    assert "a sign-in link is on its way. It works once, for 15 minutes" in flashed
    link = link_in(mail, "colin@example.com")
    with session_scope(sessions) as db:
        [row] = db.query(SignInLink).all()
        assert row.token_hash == hash_token(link.rsplit("/", 1)[1]) and row.used_at is None
    assert browser.get(link).status_code == 200  # a scanner's GET uses nothing
    assert "Sign in as colin@example.com" in browser.get(link).get_data(as_text=True)
    used = post(browser, link)
    assert used.status_code == 302 and signed_in_email(browser) == "colin@example.com"
    assert browser.get(f"/api/orgs/{org_id}/summary").status_code == 200
    thief = app.test_client()
    assert thief.get(link).status_code == 410
    assert post(thief, link).status_code == 410 and signed_in_email(thief) is None


def test_a_one_time_link_expires(app, org_id, mail, sessions):
    sign_in(app.test_client(), org_id, role="viewer", email="late@example.com")
    browser = app.test_client()
    post(browser, "/sign-in/email", email="late@example.com")
    link = link_in(mail, "late@example.com")
    with session_scope(sessions) as db:
        db.execute(update(SignInLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = post(browser, link)
    assert response.status_code == 410 and "older than 15 minutes" in response.text
    assert signed_in_email(browser) is None


def test_asking_for_a_link_says_the_same_for_a_stranger_and_sends_nothing(app, mail):
    browser = app.test_client()
    assert post(browser, "/sign-in/email", email="nobody@example.com").status_code == 302
    page = browser.get("/sign-in").get_data(as_text=True)
    assert "If nobody@example.com belongs to someone on a Dunwell team" in page
    assert mail.mailbox.messages() == []
    bad = post(browser, "/sign-in/email", email="not an address")
    assert bad.status_code == 422 and 'id="sign-in-email-error"' in bad.text


def test_removing_a_member_ends_all_their_sessions_at_once(app, admin, org_id, sessions):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, org_id, role="collector", email="mo@example.com")
    sign_in(phone, org_id, role="collector", email="mo@example.com")
    for browser in (laptop, phone):
        assert browser.get(f"/api/orgs/{org_id}/summary").status_code == 200
    member_id = _user_id(sessions, "mo@example.com")
    removed = post(admin, f"/orgs/{org_id}/team/members/{member_id}/remove", confirmed="yes")
    assert removed.status_code == 302
    for browser in (laptop, phone):
        assert browser.get(f"/api/orgs/{org_id}/summary").status_code == 404
        assert signed_in_email(browser) is None
    assert "mo@example.com" not in roles(sessions, org_id)


def test_the_last_admin_stays(app, admin, org_id, sessions):
    me = _user_id(sessions, "ada@example.com")
    demoted = post(admin, f"/orgs/{org_id}/team/members/{me}/role", role="viewer")
    assert demoted.status_code == 409 and "only admin" in demoted.get_data(as_text=True)
    removed = post(admin, f"/orgs/{org_id}/team/members/{me}/remove", confirmed="yes")
    assert removed.status_code == 409
    assert roles(sessions, org_id) == {"ada@example.com": "admin"}


def test_an_admin_changes_a_role_and_it_counts_at_once(app, admin, org_id, sessions):
    viewer = app.test_client()
    sign_in(viewer, org_id, role="viewer", email="val@example.com")
    assert post(viewer, f"/orgs/{org_id}/sync").status_code == 403
    val = _user_id(sessions, "val@example.com")
    changed = post(admin, f"/orgs/{org_id}/team/members/{val}/role", role="admin")
    assert changed.status_code == 302
    assert post(viewer, f"/orgs/{org_id}/sync").status_code == 302
    team = admin.get(f"/orgs/{org_id}/team").get_data(as_text=True)
    assert 'data-member="val@example.com"' in team


def test_cancelling_an_invitation_kills_its_link(app, admin, org_id, mail, sessions):
    invite(admin, org_id, "nope@example.com")
    link = link_in(mail, "nope@example.com")
    with session_scope(sessions) as db:
        invitation_id = db.query(Invitation).one().id
    assert post(admin, f"/orgs/{org_id}/team/invitations/{invitation_id}/cancel").status_code == 302
    assert app.test_client().get(link).status_code == 410
    assert post(admin, f"/orgs/{org_id}/team/invitations/{invitation_id}/cancel").status_code == 404


def _user_id(sessions, email: str) -> int:
    with session_scope(sessions) as db:
        return db.query(User).filter_by(email=email).one().id


def test_an_operator_gives_someone_a_role_from_the_command_line(app, org_id, sessions):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["member", str(org_id), "Owner@Example.com"])
    assert result.exit_code == 0, result.output
    assert roles(sessions, org_id) == {"owner@example.com": "admin"}
    demoted = runner.invoke(args=["member", str(org_id), "owner@example.com", "--role", "viewer"])
    assert demoted.exit_code == 0 and roles(sessions, org_id) == {"owner@example.com": "viewer"}
    missing = runner.invoke(args=["member", str(org_id + 1000), "x@example.com"])
    assert missing.exit_code != 0 and "no organization" in missing.output
