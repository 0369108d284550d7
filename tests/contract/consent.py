"""The person at the browser: approve the sandbox's consent page, and (for clients that leave
the authorization-code step to their host application) exchange the code for tokens."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from demo.browser import form_data
from demo.browser import forms

INTUIT_CLIENT = ("test-intuit-client", "test-intuit-secret")  # as tests.servers configures it
XERO_CLIENT = ("test-xero-client", "test-xero-secret")
REDIRECT_URI = "http://localhost/callback"
XERO_SCOPES = (
    "offline_access openid profile email accounting.invoices.read accounting.payments.read "
    "accounting.contacts.read accounting.settings.read"
)


def approve(authorize_url: str, choices: dict[str, str] | None = None) -> dict[str, str]:
    """Open the consent page, pick `choices` (field -> value; by default what the page has
    selected), approve, and return the query of the redirect back to the client."""
    page = requests.get(authorize_url, timeout=10)
    page.raise_for_status()
    form = next(f for f in forms(page.text) if f["method"] == "post")
    chosen = choices or {}
    data = [(k, v) for k, v in form_data(form, ("allow", "approve")) if k not in chosen]
    answer = requests.post(
        urljoin(page.url, form["action"]),
        data=data + list(chosen.items()),
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def quickbooks_grant(sandbox: str, realm_id: str) -> dict:
    """A token set for one QuickBooks company, with its `realmId`."""
    client = OAuth2Session(
        *INTUIT_CLIENT, scope="com.intuit.quickbooks.accounting", redirect_uri=REDIRECT_URI
    )
    url, _ = client.create_authorization_url(f"{sandbox}/qbo/connect/oauth2")
    callback = approve(url, {"realm_id": realm_id})
    token = client.fetch_token(f"{sandbox}/qbo/oauth2/v1/tokens/bearer", code=callback["code"])
    client.close()
    return {**token, "realmId": callback["realmId"]}


def xero_grant(sandbox: str) -> dict:
    """A token set for every Xero organisation the sandbox offers (the page ticks them all)."""
    client = OAuth2Session(*XERO_CLIENT, scope=XERO_SCOPES, redirect_uri=REDIRECT_URI)
    url, _ = client.create_authorization_url(f"{sandbox}/xero/identity/connect/authorize")
    callback = approve(url)
    token = client.fetch_token(f"{sandbox}/xero/identity/connect/token", code=callback["code"])
    client.close()
    return dict(token)
