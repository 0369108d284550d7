"""Real HTTP servers for tests: the sandbox in a thread, and free ports."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from providers import PROVIDERS
from sandbox import SandboxConfig
from sandbox import create_app as create_sandbox
from sandbox.client_env import endpoint_env


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
    env: dict[str, str] = {}
    for provider in PROVIDERS:
        env |= endpoint_env(provider, sandbox, web)
    return env
