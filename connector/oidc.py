"""OpenID Connect with Intuit and Xero, through Authlib's Flask client.

Authlib reads the provider's discovery document (INTUIT_DISCOVERY_URL, XERO_DISCOVERY_URL),
builds the authorization request with our `state` and `nonce`, exchanges the code, and checks the
id_token: its RS256 signature against the provider's JWKS (fetched again when a new key id
appears), the issuer, the audience (our client id), the expiry and the nonce. The state and the
nonce live in the browser's server-side session (connector.oauth's callback checks the state).

Both providers' answers become a `team.identities.Identity`: Intuit's names come from its
userinfo endpoint (camelCase there), Xero's from the id_token.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import current_app
from joserfc.errors import JoseError

from core.settings import Settings
from team.identities import LOGIN_NAMES
from team.identities import Identity

log = logging.getLogger(__name__)
EXTENSION = "dunwell_oidc"
SIGN_IN_SCOPES = {"quickbooks": "openid email profile", "xero": "openid profile email"}


class SignInFailed(Exception):
    """The sign-in could not be completed or verified; the message says so for a person."""


CLIENT_KWARGS = {"token_endpoint_auth_method": "client_secret_basic", "default_timeout": 20}


def init_app(app: Flask, settings: Settings) -> None:
    oauth = OAuth(app)
    for provider in SIGN_IN_SCOPES:
        config = settings.provider(provider)
        oauth.register(
            provider,
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            client_kwargs=CLIENT_KWARGS,
        )
    app.extensions[EXTENSION] = oauth


def _client(provider: str) -> FlaskOAuth2App:
    return current_app.extensions[EXTENSION].create_client(provider)


def authorization_url(provider: str, redirect_uri: str, state: str, nonce: str) -> str:
    """Where to send the browser to sign in (from the discovery document)."""
    try:
        found = _client(provider).create_authorization_url(
            redirect_uri, state=state, nonce=nonce, scope=SIGN_IN_SCOPES[provider]
        )
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise _unreachable(provider, exc) from None
    return str(found["url"])


def exchange(provider: str, redirect_uri: str, code: str) -> dict[str, Any]:
    """The token response for an authorization code."""
    try:
        return dict(_client(provider).fetch_access_token(redirect_uri=redirect_uri, code=code))
    except OAuthError as exc:
        raise SignInFailed(
            f"{LOGIN_NAMES[provider]} refused the sign-in ({exc.error}). Try again."
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(provider, exc) from None


def verify(provider: str, token: dict[str, Any], nonce: str) -> dict[str, Any]:
    """The id_token's claims, once checked (signature, issuer, audience, expiry, nonce)."""
    if "id_token" not in token:
        raise SignInFailed(f"{LOGIN_NAMES[provider]} sent no id_token. Try again.")
    try:
        return dict(_client(provider).parse_id_token(token, nonce=nonce))
    except JoseError as exc:
        log.warning("id_token from %s refused: %s", provider, exc.__class__.__name__)
        raise SignInFailed(
            f"The answer from {LOGIN_NAMES[provider]} could not be verified "
            f"({exc.error}: {exc.description or 'invalid id_token'}). Nobody was signed in; "
            "start again."
        ) from None
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        raise _unreachable(provider, exc) from None


def identity(provider: str, token: dict[str, Any], claims: dict[str, Any]) -> Identity:
    """Who signed in, from the verified claims (and, for Intuit, its userinfo)."""
    if provider == "xero":
        name = f"{claims.get('given_name', '')} {claims.get('family_name', '')}".strip()
        return Identity(
            provider="xero",
            subject=str(claims.get("xero_userid") or claims.get("sub") or ""),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified", True) is not False,
            name=name,
        )
    info = _userinfo(provider, token)
    if info.get("sub") != claims.get("sub"):
        raise SignInFailed("Intuit's userinfo names another person than the id_token. Try again.")
    name = f"{info.get('givenName', '')} {info.get('familyName', '')}".strip()
    verified = claims.get("email_verified", info.get("emailVerified", False))
    return Identity(
        provider="quickbooks",
        subject=str(claims.get("sub") or ""),
        email=str(claims.get("email") or info.get("email") or ""),
        email_verified=verified is True,
        name=name,
    )


def _userinfo(provider: str, token: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(_client(provider).userinfo(token=token))
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(provider, exc) from None


def _unreachable(provider: str, exc: Exception) -> SignInFailed:
    log.warning("OpenID Connect with %s failed: %s", provider, exc.__class__.__name__)
    return SignInFailed(
        f"{LOGIN_NAMES[provider]} could not be reached to sign you in "
        f"({exc.__class__.__name__}). Try again in a moment."
    )
