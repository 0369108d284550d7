"""Xero's OpenID Connect, under /xero/identity (the sandbox's identity.xero.com).

GET /xero/identity/.well-known/openid-configuration        discovery
GET /xero/identity/.well-known/openid-configuration/jwks   the signing key (kid and x5t)
GET /xero/identity/connect/userinfo                        Bearer access token with `openid`

The id_token comes from the token endpoint when the grant has `openid` (on refresh too, without
a nonce): `nbf`, `exp` (five minutes), `iss`, `aud` (the client id), `iat`, `at_hash`, `sid`,
`sub` (the user id without dashes), `auth_time`, `xero_userid`, `global_session_id`,
`preferred_username`, `email`, `given_name`, `family_name`, and `nonce` when the authorize
request sent one. The access token is a JWT signed by the same key, as Xero's is.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from sandbox.oidc.keys import at_hash
from sandbox.oidc.state import current
from sandbox.oidc.users import SandboxUser

bp = Blueprint("xero_oidc", __name__, url_prefix="/xero/identity")
ID_TOKEN_SECONDS = 300
SCOPES = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.invoices",
    "accounting.payments",
    "accounting.contacts",
    "accounting.settings",
)


def issuer() -> str:
    return request.url_root.rstrip("/") + "/xero/identity"


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    base = issuer()
    return jsonify(
        {
            "issuer": base,
            "jwks_uri": f"{base}/.well-known/openid-configuration/jwks",
            "authorization_endpoint": f"{base}/connect/authorize",
            "token_endpoint": f"{base}/connect/token",
            "userinfo_endpoint": f"{base}/connect/userinfo",
            "revocation_endpoint": f"{base}/connect/revocation",
            "frontchannel_logout_supported": True,
            "frontchannel_logout_session_supported": True,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "scopes_supported": list(SCOPES),
            "claims_supported": [
                "sub",
                "name",
                "family_name",
                "given_name",
                "preferred_username",
                "email",
                "xero_userid",
                "global_session_id",
            ],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["plain", "S256"],
        }
    )


@bp.get("/.well-known/openid-configuration/jwks")
def jwks() -> Response:
    return jsonify(current().keys["xero"].jwks())


@bp.get("/connect/userinfo")
def userinfo() -> Response:
    from sandbox.xero.state import current as xero

    header = request.headers.get("Authorization", "")
    grant, _ = xero().auth.bearer(header[7:].strip()) if header[:7] == "Bearer " else (None, None)
    if grant is None:
        response = jsonify(error="invalid_token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    user = current().users.by_xero_userid(grant.user_id)
    if "openid" not in grant.scopes or user is None:
        response = jsonify(error="insufficient_scope")
        response.status_code = 403
        return response
    body: dict[str, Any] = {"sub": user.xero_sub, "xero_userid": user.xero_userid}
    if "email" in grant.scopes:
        body |= {"email": user.email, "preferred_username": user.email}
    if "profile" in grant.scopes:
        body |= {"given_name": user.given_name, "family_name": user.family_name}
    return jsonify(body)


def id_token(
    user: SandboxUser,
    client_id: str,
    session_id: str,
    auth_time: int,
    access_token: str,
    nonce: str,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "nbf": now,
        "exp": now + ID_TOKEN_SECONDS,
        "iss": issuer(),
        "aud": client_id,
        "iat": now,
        "at_hash": at_hash(access_token),
        "sid": session_id,
        "sub": user.xero_sub,
        "auth_time": auth_time,
        "xero_userid": user.xero_userid,
        "global_session_id": session_id,
        "preferred_username": user.email,
        "email": user.email,
        "given_name": user.given_name,
        "family_name": user.family_name,
    }
    if nonce:
        claims["nonce"] = nonce
    return current().issue("xero", claims)


def access_token(claims: dict[str, Any]) -> str:
    """Xero's access tokens are JWTs too, signed by the identity key."""
    return current().keys["xero"].sign(claims)
