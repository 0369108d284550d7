"""Connect a sandbox organization without the web app: consent, token exchange, grant, org."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session

from core.db import session_scope
from core.models import OAuthGrant
from core.models import Organization
from core.settings import Settings
from core.tokens import TokenCipher
from core.tokens import store_token
from demo.browser import form_data
from demo.browser import forms
from providers import provider_class


class _Token:
    def __init__(self, token: dict):
        self.token = token

    def access_token(self) -> str:
        return str(self.token["access_token"])

    def refreshed(self, rejected: str) -> str:
        raise AssertionError("a fresh token was refused")


def obtain_token(settings: Settings, provider: str) -> tuple[dict, dict[str, str]]:
    """Drive the sandbox consent page; returns the token and the callback's query."""
    config = settings.provider(provider)
    spec = provider_class(provider).oauth(config)
    client = OAuth2Session(
        config.client_id,
        config.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=config.redirect_uri,
        token_endpoint_auth_method="client_secret_basic",
    )
    url, state = client.create_authorization_url(spec.authorize_url, state="test-state")
    page = requests.get(url, timeout=10)
    form = [f for f in forms(page.text) if f["method"] == "post"][0]
    answer = requests.post(
        urljoin(page.url, form["action"]),
        data=form_data(form, ("allow", "approve")),
        allow_redirects=False,
        timeout=10,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    token = dict(client.fetch_token(spec.token_url, code=query["code"], timeout=10))
    client.close()
    return token, query


def connect_org(settings: Settings, sessions, provider: str) -> int:
    """A connected organization for the first tenant the sandbox offers; returns its id."""
    token, query = obtain_token(settings, provider)
    config = settings.provider(provider)
    tenant = provider_class(provider).identify(config, _Token(token), query)[0]
    with session_scope(sessions) as session:
        grant = OAuthGrant(provider=provider, token_ciphertext="")
        store_token(grant, token, TokenCipher(settings.token_encryption_keys))
        session.add(grant)
        session.flush()
        org = Organization(
            provider=provider,
            external_id=tenant.external_id,
            name=tenant.name,
            currency=tenant.currency,
            timezone=tenant.timezone or "UTC",
            connection_id=tenant.connection_id,
            grant_id=grant.id,
            status="connected",
        )
        session.add(org)
        session.flush()
        return org.id
