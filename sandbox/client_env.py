"""How a client is pointed at this sandbox: each provider's environment variables (the names
its config module in providers/ reads), with the sandbox's own URLs and demo credentials.

`make demo`, the end-to-end tests and the benchmarks use these instead of spelling them out.
"""

from __future__ import annotations

from sandbox.app import SandboxConfig


def endpoint_env(provider: str, sandbox: str, web: str) -> dict[str, str]:
    """The URLs: authorization, token, revocation, API, OpenID Connect discovery, callback."""
    if provider == "quickbooks":
        return {
            "INTUIT_AUTHORIZE_URL": f"{sandbox}/qbo/connect/oauth2",
            "INTUIT_TOKEN_URL": f"{sandbox}/qbo/oauth2/v1/tokens/bearer",
            "INTUIT_REVOKE_URL": f"{sandbox}/qbo/v2/oauth2/tokens/revoke",
            "INTUIT_API_BASE": f"{sandbox}/qbo",
            "INTUIT_DISCOVERY_URL": f"{sandbox}/qbo/.well-known/openid_sandbox_configuration/",
            "INTUIT_REDIRECT_URI": f"{web}/oauth/quickbooks/callback",
        }
    if provider == "xero":
        return {
            "XERO_AUTHORIZE_URL": f"{sandbox}/xero/identity/connect/authorize",
            "XERO_TOKEN_URL": f"{sandbox}/xero/identity/connect/token",
            "XERO_REVOKE_URL": f"{sandbox}/xero/identity/connect/revocation",
            "XERO_CONNECTIONS_URL": f"{sandbox}/xero/connections",
            "XERO_API_BASE": f"{sandbox}/xero/api.xro/2.0",
            "XERO_DISCOVERY_URL": f"{sandbox}/xero/identity/.well-known/openid-configuration",
            "XERO_REDIRECT_URI": f"{web}/oauth/xero/callback",
        }
    return {}  # a provider the sandbox does not stand in for


def client_env(
    provider: str, sandbox: str, web: str, config: SandboxConfig | None = None
) -> dict[str, str]:
    """The URLs plus the client credentials and webhook key the sandbox expects."""
    config = config or SandboxConfig()
    env = endpoint_env(provider, sandbox, web)
    if provider == "quickbooks":
        env |= {
            "INTUIT_CLIENT_ID": config.intuit_client_id,
            "INTUIT_CLIENT_SECRET": config.intuit_client_secret,
            "INTUIT_WEBHOOK_VERIFIER_TOKEN": config.intuit_webhook_verifier,
            "INTUIT_ENVIRONMENT": "sandbox",
        }
    elif provider == "xero":
        env |= {
            "XERO_CLIENT_ID": config.xero_client_id,
            "XERO_CLIENT_SECRET": config.xero_client_secret,
            "XERO_WEBHOOK_KEY": config.xero_webhook_key,
        }
    return env
