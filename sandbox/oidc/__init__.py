"""OpenID Connect for both sandbox providers: "Sign in with Intuit" and "Sign in with Xero".

Each provider publishes what its real one does, at the matching path under its prefix: a
discovery document, a JWKS, RS256-signed id_tokens with the provider's own claims, and userinfo
(see sandbox.oidc.intuit and sandbox.oidc.xero). The consent pages (sandbox.quickbooks.oauth,
sandbox.xero.oauth) ask which sandbox person signs in (sandbox.oidc.users); the token endpoints
sign the id_token for that person with the nonce the authorize request sent. The control API
(sandbox.oidc.control) adds people and spoils id_tokens for tests.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from sandbox.oidc.state import EXTENSION
from sandbox.oidc.state import Oidc
from sandbox.oidc.state import current

__all__ = ["Oidc", "current", "init_app"]


def init_app(app: Flask, config: Any) -> Oidc:
    """Once per app (each provider's init_app asks for it; the first call sets it up)."""
    from sandbox.oidc import control
    from sandbox.oidc import intuit
    from sandbox.oidc import xero

    if EXTENSION in app.extensions:
        return app.extensions[EXTENSION]
    oidc = app.extensions[EXTENSION] = Oidc(config.seed)
    app.register_blueprint(intuit.bp)
    app.register_blueprint(xero.bp)
    app.register_blueprint(control.bp)
    return oidc
