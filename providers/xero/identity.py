"""Xero's identity side: which organisations a grant reaches, and disconnecting them.

One Xero consent can cover several organisations. `GET /connections` lists every connection of
the user's grant; those added by this consent share its `authEventId`, which the access token
also carries as the `authentication_event_id` claim. Deleting a connection (by its `id`, not the
tenant id) disconnects one organisation; revoking the refresh token ends the whole grant and
every connection under it.
See https://developer.xero.com/documentation/guides/oauth2/tenants/
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

import requests

from providers.base import Credentials
from providers.base import NoLimiter
from providers.base import NotFound
from providers.base import Rejected
from providers.base import Tenant
from providers.base import Unavailable
from providers.http import RetryPolicy
from providers.xero.api import XeroApi
from providers.xero.reads import documents
from providers.xero.timezones import iana_timezone

log = logging.getLogger(__name__)


def token_claims(access_token: str) -> dict[str, Any]:
    """The payload of a JWT access token, read without verifying it ({} when unreadable).

    Only used to pick connections; the token's validity is Xero's business.
    """
    try:
        payload = access_token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def identity_api(
    settings: Any,
    credentials: Credentials,
    http: requests.Session | None,
    retry: RetryPolicy | None = None,
) -> XeroApi:
    """A client for tenantless calls (no xero-tenant-id, the app limit only)."""
    return XeroApi(
        base_url=settings.api_base,
        tenant_id=None,
        credentials=credentials,
        limiter=NoLimiter(),
        http=http,
        retry=retry,
    )


def identify(
    settings: Any, credentials: Credentials, http: requests.Session | None = None
) -> list[Tenant]:
    """The organisations connected by the consent that produced `credentials`' access token."""
    http = http or requests.Session()
    event = token_claims(credentials.access_token()).get("authentication_event_id")
    connections = identity_api(settings, credentials, http).get(settings.connections_url) or []
    chosen = [
        c
        for c in connections
        # PRACTICE tenants (Xero HQ) hold no receivables.
        if isinstance(c, dict)
        and c.get("tenantType", "ORGANISATION") == "ORGANISATION"
        and (not event or c.get("authEventId") == event)
    ]
    return [_tenant(settings, credentials, http, c) for c in chosen]


def _tenant(
    settings: Any, credentials: Credentials, http: requests.Session, connection: dict[str, Any]
) -> Tenant:
    tenant_id = str(connection["tenantId"])
    api = XeroApi(
        base_url=settings.api_base,
        tenant_id=tenant_id,
        credentials=credentials,
        limiter=NoLimiter(),
        http=http,
    )
    organisations = documents(api.get("Organisation"), "Organisations")
    org = organisations[0] if organisations else {}
    return Tenant(
        external_id=tenant_id,
        name=str(connection.get("tenantName") or org.get("Name") or ""),
        currency=org.get("BaseCurrency") or None,
        timezone=iana_timezone(org.get("Timezone")),
        connection_id=str(connection["id"]) if connection.get("id") else None,
    )


def connection_id(api: XeroApi, connections_url: str, tenant_id: str) -> str | None:
    """The id of this grant's connection to `tenant_id`, if it still exists."""
    for connection in api.get(connections_url) or []:
        if isinstance(connection, dict) and connection.get("tenantId") == tenant_id:
            return str(connection["id"])
    return None


def delete_connection(api: XeroApi, connections_url: str, connection: str) -> None:
    try:
        api.delete(f"{connections_url.rstrip('/')}/{connection}")
    except NotFound:
        pass  # already gone


def refresh_token_of(credentials: Credentials) -> str | None:
    """A refresh token, if this Credentials implementation offers one (`refresh_token()`)."""
    source = getattr(credentials, "refresh_token", None)
    value = source() if callable(source) else source
    return value if isinstance(value, str) and value else None


def revoke(settings: Any, http: requests.Session, refresh_token: str | None) -> None:
    """Revoke the grant (all its connections). Xero revokes refresh tokens only."""
    if not refresh_token:
        log.warning("Xero grant not revoked: no refresh token was available")
        return
    try:
        response = http.post(
            settings.revoke_url,
            data={"token": refresh_token},
            auth=(settings.client_id, settings.client_secret),
            headers={"Accept": "application/json"},
            timeout=(5, 30),
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise Unavailable(f"Xero did not answer the revocation ({exc.__class__.__name__})") from exc
    if response.status_code >= 500:
        raise Unavailable(f"Xero could not revoke the grant (HTTP {response.status_code})")
    if response.status_code >= 400:
        raise Rejected(
            f"Xero refused to revoke the grant (HTTP {response.status_code})",
            status=response.status_code,
        )
