"""Real HTTP servers for tests: the sandbox in a thread, and free ports."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from sandbox import SandboxConfig
from sandbox import create_app as create_sandbox


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    server = make_server("127.0.0.1", port or free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def sandbox_server(webhook_base: str = "", size: str = "small") -> Iterator[str]:
    config = SandboxConfig(
        size=size,
        intuit_client_id="test-intuit-client",
        intuit_client_secret="test-intuit-secret",
        intuit_webhook_verifier="test-intuit-verifier",
        intuit_webhook_url=f"{webhook_base}/webhooks/quickbooks" if webhook_base else "",
        xero_client_id="test-xero-client",
        xero_client_secret="test-xero-secret",
        xero_webhook_key="test-xero-webhook-key",
        xero_webhook_url=f"{webhook_base}/webhooks/xero" if webhook_base else "",
        webhook_delay_seconds=0.05,
    )
    with serve(create_sandbox(config)) as url:
        yield url


def provider_urls(sandbox: str, web: str = "http://localhost") -> dict[str, str]:
    """The settings that point Dunwell at the sandbox (as `make demo` does)."""
    return {
        "INTUIT_AUTHORIZE_URL": f"{sandbox}/qbo/connect/oauth2",
        "INTUIT_TOKEN_URL": f"{sandbox}/qbo/oauth2/v1/tokens/bearer",
        "INTUIT_REVOKE_URL": f"{sandbox}/qbo/v2/oauth2/tokens/revoke",
        "INTUIT_API_BASE": f"{sandbox}/qbo",
        "INTUIT_REDIRECT_URI": f"{web}/oauth/quickbooks/callback",
        "XERO_AUTHORIZE_URL": f"{sandbox}/xero/identity/connect/authorize",
        "XERO_TOKEN_URL": f"{sandbox}/xero/identity/connect/token",
        "XERO_REVOKE_URL": f"{sandbox}/xero/identity/connect/revocation",
        "XERO_CONNECTIONS_URL": f"{sandbox}/xero/connections",
        "XERO_API_BASE": f"{sandbox}/xero/api.xro/2.0",
        "XERO_REDIRECT_URI": f"{web}/oauth/xero/callback",
        **discovery_urls(sandbox),
    }


def discovery_urls(sandbox: str) -> dict[str, str]:
    """The settings that point Dunwell's OpenID Connect at the sandbox's discovery documents."""
    return {
        "INTUIT_DISCOVERY_URL": f"{sandbox}/qbo/.well-known/openid_sandbox_configuration/",
        "XERO_DISCOVERY_URL": f"{sandbox}/xero/identity/.well-known/openid-configuration",
    }
