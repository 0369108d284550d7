"""Xero identity state: authorisation codes, grants, rotating tokens and tenant connections.

One consent (an "authentication event") of one person makes one grant whose token family covers
the organisations ticked on the consent page, each as a connection. Access tokens live 30 minutes
and are JWTs; under `openid` every token response also carries an id_token (sandbox.oidc.xero
makes and signs both).
Each refresh returns a new refresh token; the previous one stays usable for 30 minutes and
answers with the very pair it produced the first time (Xero's grace for lost responses).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from sandbox.xero.clock import Clock

ACCESS_TTL = timedelta(minutes=30)
REFRESH_GRACE = timedelta(minutes=30)
REFRESH_IDLE = timedelta(days=60)
CODE_TTL = timedelta(minutes=5)
ISSUER = "https://identity.xero.com"


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "") -> None:
        self.error, self.description = error, description
        super().__init__(error)


@dataclass
class Grant:
    id: str
    client_id: str
    user_id: str
    auth_event_id: str
    scopes: list[str]
    created: datetime
    revoked: bool = False


@dataclass
class Code:
    grant_id: str
    redirect_uri: str
    expires: datetime
    challenge: str = ""
    method: str = ""
    nonce: str = ""


@dataclass
class Refresh:
    grant_id: str
    issued: datetime
    rotated_at: datetime | None = None
    replay: dict[str, Any] = field(default_factory=dict)


@dataclass
class Access:
    grant_id: str
    expires: datetime


@dataclass
class Connection:
    id: str
    tenant_id: str
    tenant_name: str
    grant_id: str
    auth_event_id: str
    created: datetime


Signer = Callable[[dict[str, Any]], str]
IdTokens = Callable[[Grant, str, str], str]  # (grant, access token, nonce) -> id_token


class AuthServer:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        clock: Clock,
        sign_access: Signer,
        id_token: IdTokens,
    ) -> None:
        self.client_id, self.client_secret, self.clock = client_id, client_secret, clock
        self.sign_access, self.id_token = sign_access, id_token
        self.lock = threading.Lock()
        self.grants: dict[str, Grant] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, Refresh] = {}
        self.access_tokens: dict[str, Access] = {}
        self.connections: dict[str, Connection] = {}

    def client_ok(self, client_id: str | None, secret: str | None) -> bool:
        return client_id == self.client_id and (
            secret is None or secrets.compare_digest(secret, self.client_secret)
        )

    def approve(
        self,
        scopes: list[str],
        redirect_uri: str,
        tenants: list[tuple[str, str]],
        challenge: str = "",
        method: str = "",
        *,
        user_id: str,
        nonce: str = "",
    ) -> str:
        """Records the consent of person `user_id` (their xero_userid): a grant, its connections
        (replacing older ones), a code."""
        now = self.clock.now()
        grant = Grant(str(uuid.uuid4()), self.client_id, user_id, str(uuid.uuid4()), scopes, now)
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.grants[grant.id] = grant
            for tenant_id, name in tenants:
                self._connect(grant, tenant_id, name, now)
            self.codes[code] = Code(
                grant.id, redirect_uri, now + CODE_TTL, challenge, method, nonce
            )
        return code

    def _connect(self, grant: Grant, tenant_id: str, name: str, now: datetime) -> None:
        for old in [c for c in self.connections.values() if c.tenant_id == tenant_id]:
            del self.connections[old.id]
        connection = Connection(
            str(uuid.uuid4()), tenant_id, name, grant.id, grant.auth_event_id, now
        )
        self.connections[connection.id] = connection

    def exchange(
        self, code: str, redirect_uri: str, verifier: str | None, confidential: bool
    ) -> dict[str, Any]:
        with self.lock:
            entry = self.codes.pop(code, None)
            if entry is None or entry.expires < self.clock.now():
                raise OAuthError("invalid_grant")
            if entry.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match")
            if not _pkce_ok(entry, verifier, confidential):
                raise OAuthError("invalid_grant", "code_verifier does not match")
            return self._issue(self.grants[entry.grant_id], entry.nonce)

    def refresh(self, token: str) -> dict[str, Any]:
        now = self.clock.now()
        with self.lock:
            entry = self.refresh_tokens.get(token)
            grant = self.grants.get(entry.grant_id) if entry else None
            if entry is None or grant is None or grant.revoked:
                raise OAuthError("invalid_grant")
            if entry.rotated_at is not None:
                if now - entry.rotated_at <= REFRESH_GRACE:
                    return entry.replay
                raise OAuthError("invalid_grant")
            if now - entry.issued > REFRESH_IDLE:
                raise OAuthError("invalid_grant")
            response = self._issue(grant)
            entry.rotated_at, entry.replay = now, response
            return response

    def _issue(self, grant: Grant, nonce: str = "") -> dict[str, Any]:
        now = self.clock.now()
        access = self.sign_access(self._claims(grant, now))
        self.access_tokens[access] = Access(grant.id, now + ACCESS_TTL)
        response: dict[str, Any] = {}
        if "openid" in grant.scopes:
            response["id_token"] = self.id_token(grant, access, nonce)
        response.update(
            {
                "access_token": access,
                "expires_in": int(ACCESS_TTL.total_seconds()),
                "token_type": "Bearer",
            }
        )
        if "offline_access" in grant.scopes:
            refresh = secrets.token_hex(32)
            self.refresh_tokens[refresh] = Refresh(grant.id, now)
            response["refresh_token"] = refresh
        response["scope"] = " ".join(grant.scopes)
        return response

    def _claims(self, grant: Grant, now: datetime) -> dict[str, Any]:
        stamp = int(now.timestamp())
        return {
            "nbf": stamp,
            "exp": int((now + ACCESS_TTL).timestamp()),
            "iss": ISSUER,
            "aud": f"{ISSUER}/resources",
            "client_id": grant.client_id,
            "sub": grant.user_id.replace("-", ""),
            "auth_time": int(grant.created.timestamp()),
            "xero_userid": grant.user_id,
            "global_session_id": grant.id.replace("-", ""),
            "sid": grant.id.replace("-", ""),
            "jti": secrets.token_hex(16),
            "authentication_event_id": grant.auth_event_id,
            "scope": grant.scopes,
        }

    def revoke(self, token: str) -> None:
        """Revokes the token's grant and removes the connections it made."""
        with self.lock:
            entry = self.refresh_tokens.get(token) or self.access_tokens.get(token)
            grant = self.grants.get(entry.grant_id) if entry else None
            if grant is None:
                return
            grant.revoked = True
            for connection in [c for c in self.connections.values() if c.grant_id == grant.id]:
                del self.connections[connection.id]

    def bearer(self, token: str) -> tuple[Grant | None, datetime | None]:
        """(grant, None) when valid; (None, expired_at) when expired; (None, None) otherwise."""
        with self.lock:
            entry = self.access_tokens.get(token)
            grant = self.grants.get(entry.grant_id) if entry else None
            if entry is None or grant is None or grant.revoked:
                return None, None
            if entry.expires <= self.clock.now():
                return None, entry.expires
            return grant, None

    def user_connections(self, grant: Grant) -> list[Connection]:
        with self.lock:
            return [
                c
                for c in self.connections.values()
                if self.grants[c.grant_id].user_id == grant.user_id
            ]

    def delete_connection(self, grant: Grant, connection_id: str) -> bool:
        with self.lock:
            connection = self.connections.get(connection_id)
            if connection is None or self.grants[connection.grant_id].user_id != grant.user_id:
                return False
            del self.connections[connection_id]
            return True

    def connected(self, grant: Grant, tenant_id: str) -> bool:
        return any(c.tenant_id == tenant_id for c in self.user_connections(grant))

    def expire_access_tokens(self) -> int:
        now = self.clock.now()
        with self.lock:
            live = [a for a in self.access_tokens.values() if a.expires > now]
            for access in live:
                access.expires = now - timedelta(seconds=1)
            return len(live)


def _pkce_ok(code: Code, verifier: str | None, confidential: bool) -> bool:
    if not code.challenge:
        return confidential
    if not verifier:
        return False
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        return _b64(digest) == code.challenge
    return verifier == code.challenge


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
