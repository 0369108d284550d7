"""Intuit's OpenID Connect, under /qbo (the sandbox's stand-in for Intuit's hosts).

GET /qbo/.well-known/openid_sandbox_configuration/   discovery (developer.intuit.com's path)
GET /qbo/.well-known/openid_configuration/           the production one, the same here
GET /qbo/op/v1/jwks                                  the signing key
GET /qbo/v1/openid_connect/userinfo                  Bearer access token with `openid`

The id_token comes from the token endpoint when the grant has `openid`: `sub` (the user's Intuit
id), `aud` (a list holding the client id), `realmid` when a company was connected, `auth_time`,
`iss`, `iat`, `exp` (an hour), `nonce` when the authorize request sent one, and `email` with
`email_verified` under the `email` scope. Userinfo answers in Intuit's camelCase: `sub`, `email`,
`emailVerified`, `givenName`, `familyName`. The issuer is this server's `/qbo/op/v1`, as
Intuit's is `https://oauth.platform.intuit.com/op/v1`.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from sandbox.oidc.state import current
from sandbox.oidc.users import SandboxUser

bp = Blueprint("qbo_oidc", __name__, url_prefix="/qbo")
ID_TOKEN_SECONDS = 3600


def _root() -> str:
    return request.url_root.rstrip("/") + "/qbo"


def issuer() -> str:
    return f"{_root()}/op/v1"


@bp.get("/.well-known/openid_sandbox_configuration/", strict_slashes=False)
@bp.get("/.well-known/openid_configuration/", strict_slashes=False)
def discovery() -> Response:
    root = _root()
    return jsonify(
        {
            "issuer": issuer(),
            "authorization_endpoint": f"{root}/connect/oauth2",
            "token_endpoint": f"{root}/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": f"{root}/v1/openid_connect/userinfo",
            "revocation_endpoint": f"{root}/v2/oauth2/tokens/revoke",
            "jwks_uri": f"{issuer()}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }
    )


@bp.get("/op/v1/jwks")
def jwks() -> Response:
    return jsonify(current().keys["quickbooks"].jwks())


@bp.get("/v1/openid_connect/userinfo")
def userinfo() -> Response:
    from sandbox.quickbooks.state import current as qbo

    header = request.headers.get("Authorization", "")
    grant, reason = (
        qbo().grants.check_access(header[7:].strip())
        if header[:7] == "Bearer "
        else (
            None,
            "no bearer token",
        )
    )
    if grant is None:
        response = jsonify(error="invalid_token", error_description=reason)
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    scopes = grant.scope.split()
    user = current().users.get(grant.user_key)
    if "openid" not in scopes or user is None:
        response = jsonify(error="insufficient_scope", error_description="openid is required")
        response.status_code = 403
        return response
    return jsonify(_userinfo(user, scopes))


def _userinfo(user: SandboxUser, scopes: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"sub": user.intuit_sub}
    if "email" in scopes:
        body |= {"email": user.email, "emailVerified": user.email_verified}
    if "profile" in scopes:
        body |= {"givenName": user.given_name, "familyName": user.family_name}
    return body


def id_token(
    user: SandboxUser, client_id: str, realm_id: str, scopes: list[str], nonce: str
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user.intuit_sub,
        "aud": [client_id],
        "auth_time": now,
        "iss": issuer(),
        "exp": now + ID_TOKEN_SECONDS,
        "iat": now,
    }
    if realm_id:
        claims["realmid"] = realm_id
    if "email" in scopes:
        claims |= {"email": user.email, "email_verified": user.email_verified}
    if nonce:
        claims["nonce"] = nonce
    return current().issue("quickbooks", claims)
