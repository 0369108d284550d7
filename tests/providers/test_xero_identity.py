"""Xero OAuth spec, tenants behind a grant, and disconnecting."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import responses
from responses import matchers

from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.xero import Xero
from providers.xero.identity import token_claims
from tests.providers.test_xero_api import API
from tests.providers.test_xero_api import FakeCredentials
from tests.providers.test_xero_api import fixture

CONNECTIONS = "https://api.xero.com/connections"
REVOKE = "https://identity.xero.com/connect/revocation"
EVENT = "d99ecdfe-391d-43d2-b834-17636ba90e8d"
NZ = "70784a63-d24b-46a9-a4db-0e70a274b056"
US = "e0da6937-de07-4a14-adee-37abfac298ce"
OLD = "4f9a1c2e-8b3d-4e5f-a6b7-c8d9e0f1a2b3"
SETTINGS = ProviderSettings(
    client_id="client",
    client_secret="secret",
    authorize_url="https://login.xero.com/identity/connect/authorize",
    token_url="https://identity.xero.com/connect/token",
    revoke_url=REVOKE,
    api_base=API,
    connections_url=CONNECTIONS,
)


def jwt(claims: dict) -> str:
    def part(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class TokenCredentials(FakeCredentials):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def organisation(rsps: responses.RequestsMock, tenant: str, name: str) -> None:
    rsps.get(
        f"{API}/Organisation",
        json=fixture(name),
        match=[matchers.header_matcher({"xero-tenant-id": tenant})],
    )


def test_oauth_spec() -> None:
    spec = Xero.oauth(SETTINGS)
    assert spec.authorize_url == SETTINGS.authorize_url
    assert spec.token_url == SETTINGS.token_url
    assert spec.revoke_url == REVOKE
    assert spec.scopes == (
        "offline_access",
        "openid",
        "profile",
        "email",
        "accounting.invoices",
        "accounting.payments",
        "accounting.contacts",
        "accounting.settings.read",
    )
    assert Xero.name == "xero" and Xero.change_window is None


def test_identify_keeps_this_consents_organisations(rsps: responses.RequestsMock) -> None:
    token = jwt({"sub": "u1", "authentication_event_id": EVENT, "xero_userid": "x"})
    rsps.get(CONNECTIONS, json=fixture("connections.json"))
    organisation(rsps, NZ, "organisation_nz.json")
    organisation(rsps, US, "organisation_us.json")
    tenants = Xero.identify(SETTINGS, TokenCredentials(token), {"code": "abc", "state": "s"})
    assert [(t.external_id, t.name, t.currency, t.timezone, t.connection_id) for t in tenants] == [
        (NZ, "Kiwi Traders", "NZD", "Pacific/Auckland", "e1eede29-f875-4a5d-8470-17f6a29a88b1"),
        (
            US,
            "Pacific Goods Inc",
            "USD",
            "America/Los_Angeles",
            "32587c85-a9b3-4306-ac30-b416e8f2c841",
        ),
    ]
    connections_call = rsps.calls[0].request
    assert connections_call.headers["Authorization"] == f"Bearer {token}"
    assert "xero-tenant-id" not in connections_call.headers


def test_identify_without_the_claim_keeps_every_organisation(
    rsps: responses.RequestsMock,
) -> None:
    rsps.get(CONNECTIONS, json=fixture("connections.json"))
    organisation(rsps, NZ, "organisation_nz.json")
    organisation(rsps, US, "organisation_us.json")
    organisation(rsps, OLD, "organisation_us.json")
    tenants = Xero.identify(SETTINGS, TokenCredentials("opaque-token"), {})
    assert [t.external_id for t in tenants] == [NZ, US, OLD]


def test_token_claims_tolerate_garbage() -> None:
    assert token_claims("opaque") == {}
    assert token_claims("a.!!!.c") == {}
    assert token_claims(jwt({"authentication_event_id": EVENT}))["authentication_event_id"] == EVENT


def xero(connection_id: str | None = None, creds: FakeCredentials | None = None) -> Xero:
    return Xero(
        SETTINGS,
        NZ,
        creds or FakeCredentials(),
        connection_id=connection_id,
        retry=RetryPolicy(sleep=lambda s: None),
    )


def test_disconnect_deletes_the_known_connection(rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{CONNECTIONS}/conn-1", status=204)
    xero("conn-1").disconnect(revoke_grant=False)
    assert "xero-tenant-id" not in rsps.calls[0].request.headers


def test_disconnect_finds_the_connection(rsps: responses.RequestsMock) -> None:
    rsps.get(CONNECTIONS, json=fixture("connections.json"))
    rsps.delete(f"{CONNECTIONS}/e1eede29-f875-4a5d-8470-17f6a29a88b1", status=204)
    xero().disconnect(revoke_grant=False)


def test_disconnect_and_revoke_with_a_refresh_token(rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{CONNECTIONS}/conn-1", status=404)  # already gone is fine
    basic = base64.b64encode(b"client:secret").decode()
    rsps.post(
        REVOKE, status=200, match=[matchers.header_matcher({"Authorization": f"Basic {basic}"})]
    )
    xero("conn-1").disconnect(revoke_grant=True, refresh_token="refresh-1")
    assert parse_qs(rsps.calls[1].request.body) == {"token": ["refresh-1"]}


def test_revoke_uses_a_refresh_token_the_credentials_offer(rsps: responses.RequestsMock) -> None:
    class WithRefresh(FakeCredentials):
        def refresh_token(self) -> str:
            return "refresh-2"

    rsps.delete(f"{CONNECTIONS}/conn-1", status=204)
    rsps.post(REVOKE, status=200)
    xero("conn-1", WithRefresh()).disconnect(revoke_grant=True)
    assert parse_qs(rsps.calls[1].request.body) == {"token": ["refresh-2"]}


def test_revoke_without_a_refresh_token_only_disconnects(
    rsps: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    rsps.delete(f"{CONNECTIONS}/conn-1", status=204)
    with caplog.at_level(logging.WARNING):
        xero("conn-1").disconnect(revoke_grant=True)
    assert "not revoked" in caplog.text
    assert len(rsps.calls) == 1
