"""Intuit's OpenID discovery documents, which Intuit's own OAuth client (intuit-oauth) reads when
it is built, before any other call.

GET /qbo/.well-known/openid_configuration[/]          production document
GET /qbo/.well-known/openid_sandbox_configuration[/]  sandbox-keys document

Intuit publishes them at `https://developer.intuit.com/.well-known/openid_configuration/` (and
`developer.api.intuit.com`); their fields and values are Intuit's, with each endpoint pointing at
this sandbox instead. Production and sandbox documents differ only in the userinfo host, which is
one path here. The document names a JWKS and a userinfo endpoint; this module does not serve them
(signing id_tokens is the OpenID sign-in's job, not the Accounting API's).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

bp = Blueprint("qbo_discovery", __name__, url_prefix="/qbo/.well-known")


def document(base: str) -> dict[str, Any]:
    """The discovery document for a sandbox whose QuickBooks side lives at `base` (…/qbo)."""
    return {
        "issuer": f"{base}/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


@bp.get("/openid_configuration", strict_slashes=False)
@bp.get("/openid_sandbox_configuration", strict_slashes=False)
def configuration() -> Response:
    return jsonify(document(f"{request.host_url}qbo"))
