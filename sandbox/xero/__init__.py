"""The Xero part of the sandbox: identity (consent, tokens, /connections), the Accounting API
under /xero/api.xro/2.0, signed webhooks, rate limits and faults, and a control API under
/_sandbox/xero. State lives in `app.extensions["sandbox_xero"]` (see `state.XeroSandbox`)."""

from __future__ import annotations

from typing import Any

from sandbox.xero.state import EXTENSION
from sandbox.xero.state import XeroSandbox


def init_app(app: Any, config: Any, faults: Any, sender: Any) -> None:
    from sandbox import oidc
    from sandbox.xero import api
    from sandbox.xero import api_write  # noqa: F401  (adds the write routes to api.bp)
    from sandbox.xero import control
    from sandbox.xero import oauth

    oidc.init_app(app, config)  # who signs in, and the id_tokens
    app.extensions[EXTENSION] = XeroSandbox(config, faults, sender)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)


def get_sandbox(app: Any) -> XeroSandbox:
    """The Xero sandbox state of `app` (its clock, auth server, limiter, store)."""
    return app.extensions[EXTENSION]


__all__ = ["XeroSandbox", "get_sandbox", "init_app"]
