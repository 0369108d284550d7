"""Xero's configuration: the OAuth client, identity and API endpoints, from XERO_* variables."""

from __future__ import annotations

from collections.abc import Mapping

from providers.config import ProviderSettings

ENV_PREFIX = "XERO"
DEFAULTS = {
    "XERO_AUTHORIZE_URL": "https://login.xero.com/identity/connect/authorize",
    "XERO_TOKEN_URL": "https://identity.xero.com/connect/token",
    "XERO_REVOKE_URL": "https://identity.xero.com/connect/revocation",
    "XERO_CONNECTIONS_URL": "https://api.xero.com/connections",
    "XERO_API_BASE": "https://api.xero.com/api.xro/2.0",
    "XERO_DISCOVERY_URL": "https://identity.xero.com/.well-known/openid-configuration",
}


def from_env(env: Mapping[str, str], problems: list[str]) -> ProviderSettings:
    return ProviderSettings(
        client_id=env.get("XERO_CLIENT_ID", ""),
        client_secret=env.get("XERO_CLIENT_SECRET", ""),
        redirect_uri=env.get("XERO_REDIRECT_URI", ""),
        webhook_key=env.get("XERO_WEBHOOK_KEY", ""),
        authorize_url=env.get("XERO_AUTHORIZE_URL", DEFAULTS["XERO_AUTHORIZE_URL"]),
        token_url=env.get("XERO_TOKEN_URL", DEFAULTS["XERO_TOKEN_URL"]),
        revoke_url=env.get("XERO_REVOKE_URL", DEFAULTS["XERO_REVOKE_URL"]),
        api_base=env.get("XERO_API_BASE", DEFAULTS["XERO_API_BASE"]).rstrip("/"),
        connections_url=env.get("XERO_CONNECTIONS_URL", DEFAULTS["XERO_CONNECTIONS_URL"]),
        discovery_url=env.get("XERO_DISCOVERY_URL", DEFAULTS["XERO_DISCOVERY_URL"]),
    )
