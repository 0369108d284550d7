"""QuickBooks Online's configuration: Intuit's OAuth client, endpoints and API base, from the
INTUIT_* environment variables. INTUIT_ENVIRONMENT picks the production or the sandbox API and
OpenID Connect discovery document (Intuit keeps separate ones)."""

from __future__ import annotations

from collections.abc import Mapping

from providers.config import ProviderSettings

ENV_PREFIX = "INTUIT"
ENVIRONMENTS = ("production", "sandbox")
DEFAULTS = {
    "INTUIT_AUTHORIZE_URL": "https://appcenter.intuit.com/connect/oauth2",
    "INTUIT_TOKEN_URL": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    "INTUIT_REVOKE_URL": "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
    "INTUIT_API_BASE_PRODUCTION": "https://quickbooks.api.intuit.com",
    "INTUIT_API_BASE_SANDBOX": "https://sandbox-quickbooks.api.intuit.com",
    "INTUIT_DISCOVERY_URL_PRODUCTION": (
        "https://developer.intuit.com/.well-known/openid_configuration/"
    ),
    "INTUIT_DISCOVERY_URL_SANDBOX": (
        "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
    ),
}


def from_env(env: Mapping[str, str], problems: list[str]) -> ProviderSettings:
    environment = env.get("INTUIT_ENVIRONMENT", "production").lower()
    if environment not in ENVIRONMENTS:
        problems.append("INTUIT_ENVIRONMENT must be 'production' or 'sandbox'")
        environment = "production"
    suffix = environment.upper()
    return ProviderSettings(
        client_id=env.get("INTUIT_CLIENT_ID", ""),
        client_secret=env.get("INTUIT_CLIENT_SECRET", ""),
        redirect_uri=env.get("INTUIT_REDIRECT_URI", ""),
        webhook_key=env.get("INTUIT_WEBHOOK_VERIFIER_TOKEN", ""),
        authorize_url=env.get("INTUIT_AUTHORIZE_URL", DEFAULTS["INTUIT_AUTHORIZE_URL"]),
        token_url=env.get("INTUIT_TOKEN_URL", DEFAULTS["INTUIT_TOKEN_URL"]),
        revoke_url=env.get("INTUIT_REVOKE_URL", DEFAULTS["INTUIT_REVOKE_URL"]),
        api_base=env.get("INTUIT_API_BASE", DEFAULTS[f"INTUIT_API_BASE_{suffix}"]).rstrip("/"),
        discovery_url=env.get("INTUIT_DISCOVERY_URL", DEFAULTS[f"INTUIT_DISCOVERY_URL_{suffix}"]),
        environment=environment,
    )
