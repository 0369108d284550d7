"""Sign in with Intuit and with Xero over real HTTP against the sandbox's OpenID Connect, the
id_tokens Dunwell must refuse, connecting as a sign-in, and the marketplace launch URLs."""

from __future__ import annotations

import html
import re

import pytest

from connector import create_app
from core.settings import Settings
from demo.browser import FormBrowser
from tests.conftest import dunwell_env
from tests.connector.identity import arm
from tests.connector.identity import connect_as
from tests.connector.identity import consent
from tests.connector.identity import people
from tests.connector.identity import person
from tests.connector.identity import roles
from tests.connector.identity import sign_in_with
from tests.connector.identity import signed_in_email
from tests.connector.identity import start_sign_in
from tests.connector.identity import users
from tests.connector.test_oauth import csrf
from tests.connector.test_oauth import finish
from tests.connector.test_oauth import orgs
from tests.connector.test_oauth import xero_tenants
from tests.servers import free_port
from tests.servers import provider_urls
from tests.servers import sandbox_server
from tests.servers import serve


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture(autouse=True)
def no_faults(sandbox):
    yield
    import requests

    requests.delete(f"{sandbox}/_sandbox/oidc/faults", timeout=10)


@pytest.fixture
def app(sandbox, database_url, redis, tmp_path):
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **provider_urls(sandbox))
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    yield app
    app.extensions["dunwell"]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sessions(app):
    return app.extensions["dunwell"]["sessions"]


def test_sign_in_with_intuit_makes_a_user_from_the_verified_claims(client, sessions, sandbox):
    avery = people(sandbox)[0]
    response = sign_in_with(client, "quickbooks", avery["key"])
    assert response.status_code == 302 and response.headers["Location"] == "/"
    [user] = users(sessions)
    assert (user.email, user.name, user.intuit_sub) == (
        avery["email"],
        f"{avery['given_name']} {avery['family_name']}",  # from Intuit's userinfo
        avery["intuit_sub"],
    )
    assert user.xero_user_id is None and user.last_sign_in_at is not None
    assert f"Signed in as {avery['email']}" in client.get("/").get_data(as_text=True)
    assert signed_in_email(client) == avery["email"]


def test_sign_in_with_xero_and_then_intuit_is_one_user(client, sessions, sandbox):
    casey = people(sandbox)[2]
    sign_in_with(client, "xero", casey["key"])
    [user] = users(sessions)
    assert (user.xero_user_id, user.name) == (casey["xero_userid"], "Casey Moreau")
    other = client.application.test_client()
    sign_in_with(other, "quickbooks", casey["key"])  # the same email, verified by Intuit
    [user] = users(sessions)
    assert (user.intuit_sub, user.xero_user_id) == (casey["intuit_sub"], casey["xero_userid"])
    assert signed_in_email(other) == casey["email"]


def test_signing_in_again_replaces_the_session_token(client, sandbox):
    client.get("/")
    before = client.get_cookie("dunwell_session").value
    sign_in_with(client, "xero")
    assert client.get_cookie("dunwell_session").value != before


@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
@pytest.mark.parametrize(
    "kind, words",
    [
        ("forged", "(bad_signature"),
        ("expired", "(expired_token"),
        ("wrong_nonce", "claim: 'nonce'"),
        ("wrong_audience", "Nobody was signed in"),  # Authlib: not ours, so azp is missing
    ],
)
def test_an_id_token_that_does_not_verify_signs_nobody_in(
    client, sessions, sandbox, provider, kind, words
):
    arm(sandbox, provider, kind)
    response = sign_in_with(client, provider)
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    assert "could not be verified" in page and words in page, page
    assert users(sessions) == [] and signed_in_email(client) is None


def test_a_sign_in_with_a_forged_state_is_refused(client, sessions):
    callback = consent(start_sign_in(client, "xero"))
    response = finish(client, re.sub(r"state=[^&]+", "state=forged", callback))
    assert response.status_code == 400 and "state mismatch" in response.get_data(as_text=True)
    assert users(sessions) == []


def test_a_declined_sign_in_says_so(client, sessions):
    response = finish(client, consent(start_sign_in(client, "quickbooks"), decision="deny"))
    assert response.status_code == 302
    assert "did not sign you in" in client.get("/").get_data(as_text=True)
    assert users(sessions) == []


def test_after_sign_in_the_browser_goes_where_it_was_going(client, sandbox):
    response = sign_in_with(client, "xero", next_url="/sign-in?from=here")
    assert response.headers["Location"] == "/sign-in?from=here"
    elsewhere = client.application.test_client()
    response = sign_in_with(elsewhere, "xero", next_url="//evil.example/")
    assert response.headers["Location"] == "/"  # never off the site


def test_an_unverified_email_does_not_take_over_a_user(client, sessions, sandbox):
    import requests

    email = "unverified@example.com"
    requests.post(
        f"{sandbox}/_sandbox/users",
        json={"email": email, "given_name": "U", "family_name": "V", "email_verified": False},
        timeout=10,
    )
    key = next(p["key"] for p in people(sandbox) if p["email"] == email)
    sign_in_with(client, "xero", key)  # Xero vouches for its addresses: a new user
    other = client.application.test_client()
    response = sign_in_with(other, "quickbooks", key)  # Intuit says it is not verified
    assert response.status_code == 403
    assert "has not verified that address" in response.get_data(as_text=True)
    assert len(users(sessions)) == 1 and users(sessions)[0].intuit_sub is None


def test_connecting_signed_out_signs_in_as_the_admin_who_consented(client, sessions, sandbox):
    blake = people(sandbox)[1]
    response = connect_as(client, "quickbooks", blake["key"])
    assert response.status_code == 302
    [org] = orgs(sessions)
    assert roles(sessions, org.id) == {blake["email"]: "admin"}
    assert signed_in_email(client) == blake["email"]
    assert client.get(f"/orgs/{org.id}/team").status_code == 200


def test_connecting_signed_in_makes_the_signed_in_user_admin(client, sessions, sandbox):
    avery, blake = people(sandbox)[:2]
    sign_in_with(client, "xero", avery["key"])
    tenants = xero_tenants(sandbox)
    connect_as(client, "xero", blake["key"], [("tenant", tenants["Kiwi Kitchens Ltd"])])
    [org] = orgs(sessions)
    assert roles(sessions, org.id) == {avery["email"]: "admin"}
    assert signed_in_email(client) == avery["email"]
    assert client.get(f"/api/orgs/{org.id}/summary").status_code == 200


def test_a_connection_whose_id_token_is_forged_connects_nothing(client, sessions, sandbox):
    arm(sandbox, "quickbooks", "forged")
    response = connect_as(client, "quickbooks")
    assert response.status_code == 400 and "could not be verified" in response.get_data(
        as_text=True
    )
    assert orgs(sessions) == [] and users(sessions) == []


def test_the_launch_url_signs_in_and_lands_on_the_organization(app, sessions, sandbox):
    avery = people(sandbox)[0]
    connect_as(app.test_client(), "quickbooks", avery["key"])
    [org] = orgs(sessions)
    launched = app.test_client()
    start = launched.get(f"/launch/quickbooks?realmId={org.external_id}")
    assert start.status_code == 302 and "/qbo/connect/oauth2" in start.headers["Location"]
    assert "com.intuit.quickbooks.accounting" not in start.headers["Location"]  # sign-in only
    landed = finish(launched, consent(start.headers["Location"], avery["key"]))
    assert landed.status_code == 302 and landed.headers["Location"] == f"/#org-{org.id}"
    assert signed_in_email(launched) == avery["email"]
    again = launched.get("/launch/quickbooks")  # signed in: straight there
    assert again.status_code == 302 and again.headers["Location"] == f"/#org-{org.id}"


def test_launching_without_an_organization_goes_on_to_connect_one(client, sessions, sandbox):
    dana = person(sandbox, "dana.launch@example.com", "Dana", "Launch")
    start = client.get("/launch/xero")
    after_sign_in = finish(client, consent(start.headers["Location"], dana["key"]))
    assert after_sign_in.status_code == 302
    assert "accounting.invoices" in after_sign_in.headers["Location"]  # now connecting
    tenants = xero_tenants(sandbox)
    chosen = [("tenant", tenants["Cascade Outfitters Inc"])]
    done = finish(client, consent(after_sign_in.headers["Location"], dana["key"], chosen))
    assert done.status_code == 302
    [org] = orgs(sessions)
    assert roles(sessions, org.id) == {"dana.launch@example.com": "admin"}


def test_an_unknown_launch_is_a_404(client):
    assert client.get("/launch/sage").status_code == 404


def test_the_signed_out_home_page_offers_every_way_in(client):
    page = client.get("/").get_data(as_text=True)
    for words in ("Sign in with Intuit", "Sign in with Xero", "Email me a sign-in link"):
        assert words in page
    assert "Sign out" not in page


def test_the_demo_browser_signs_in_through_the_sandbox(sandbox, database_url, redis, tmp_path):
    """demo.browser.FormBrowser.sign_in, as `make demo` uses it, over real HTTP."""
    port = free_port()
    web = f"http://127.0.0.1:{port}"
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **provider_urls(sandbox, web))
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    blake = people(sandbox)[1]
    try:
        with serve(app, port):
            browser = FormBrowser(web)
            assert browser.sign_in("quickbooks") == people(sandbox)[0]["email"]
            other = FormBrowser(web)
            assert other.sign_in("xero", blake["key"]) == blake["email"]
            [org_id] = other.connect("quickbooks")
            assert other.summary(org_id)["name"] == "Larkspur Landscaping"
            assert roles(app.extensions["dunwell"]["sessions"], org_id) == {blake["email"]: "admin"}
    finally:
        app.extensions["dunwell"]["engine"].dispose()


def test_an_unreachable_provider_is_a_page_that_says_so(sandbox, database_url, redis, tmp_path):
    nowhere = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
    urls = provider_urls(sandbox) | {"XERO_DISCOVERY_URL": nowhere}
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **urls)
    app = create_app(Settings.from_env(env).with_changes(testing=True))
    client = app.test_client()
    response = client.post("/sign-in/xero", data={"csrf_token": csrf(client)})
    assert response.status_code == 502
    assert "Xero could not be reached to sign you in" in response.get_data(as_text=True)
    app.extensions["dunwell"]["engine"].dispose()
