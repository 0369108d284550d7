"""OAuth tokens: encrypted at rest, refreshed once per grant across every process.

Refresh tokens rotate (QuickBooks about daily, Xero on every refresh), so two workers refreshing
the same grant at once would leave one of them holding a dead token. Refresh therefore happens
under a Redis lock per grant, and the grant is re-read after the lock is taken: whoever comes
second finds the token already fresh and uses it. A refused refresh (`invalid_grant`) is checked
once more against the stored row before the grant is declared dead and its organizations are
marked "needs reconnect".

Run `python -m core.tokens` to print a new encryption key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any

from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError
from cryptography.fernet import Fernet
from cryptography.fernet import InvalidToken
from cryptography.fernet import MultiFernet
from redis import Redis
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.db import session_scope
from core.db import utcnow
from core.models import OAuthGrant
from core.models import Organization
from core.models import OrgStatus

log = logging.getLogger(__name__)

REFRESH_LEEWAY = timedelta(minutes=2)
Token = dict[str, Any]
Refresher = Callable[[str], Token]


class GrantDead(Exception):
    """The grant cannot be refreshed any more: the organization must be reconnected."""


class InvalidGrant(Exception):
    """The token endpoint refused the refresh token."""


class TokenCipher:
    """Fernet encryption of token blobs. The first key encrypts; every key decrypts, so keys
    rotate by putting a new one first and re-encrypting at leisure."""

    def __init__(self, keys: tuple[str, ...]):
        if not keys:
            raise ValueError("at least one token encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, token: Token) -> str:
        return self._fernet.encrypt(json.dumps(token).encode()).decode()

    def decrypt(self, ciphertext: str) -> Token:
        try:
            token: Token = json.loads(self._fernet.decrypt(ciphertext.encode()))
            return token
        except InvalidToken as exc:
            raise GrantDead("stored token cannot be decrypted with the configured keys") from exc

    def rotate(self, ciphertext: str) -> str:
        """The same token encrypted with the newest key (MultiFernet decrypts with any key)."""
        return self._fernet.rotate(ciphertext.encode()).decode()


def expires_at(token: Token) -> datetime | None:
    """When the access token expires: providers give an absolute `expires_at` or a relative
    `expires_in` (then counted from now); None when they give neither."""
    if token.get("expires_at"):
        return datetime.fromtimestamp(float(token["expires_at"]), tz=utcnow().tzinfo)
    if token.get("expires_in"):
        return utcnow() + timedelta(seconds=int(token["expires_in"]))
    return None


def store_token(grant: OAuthGrant, token: Token, cipher: TokenCipher) -> None:
    """Write a whole token set onto `grant` (the caller commits)."""
    if not token.get("access_token") or "error" in token:
        # Some libraries take {"error": "invalid_grant"} for a token and blank the store.
        raise InvalidGrant(f"not a token: {sorted(token)}")
    grant.token_ciphertext = cipher.encrypt(token)
    grant.expires_at = expires_at(token)
    grant.scope = str(token.get("scope", grant.scope or ""))
    grant.generation = (grant.generation or 0) + 1
    grant.status = "active"


def authlib_refresher(client_id: str, client_secret: str, token_url: str) -> Refresher:
    """A refresher for providers whose token endpoint takes HTTP Basic client auth (both do)."""

    def refresh(refresh_token: str) -> Token:
        client = OAuth2Session(
            client_id, client_secret, token_endpoint_auth_method="client_secret_basic"
        )
        try:
            token = client.refresh_token(token_url, refresh_token=refresh_token, timeout=20)
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "unauthorized_client"):
                raise InvalidGrant(exc.error) from exc
            raise
        finally:
            client.close()
        return dict(token)

    return refresh


class GrantCredentials:
    """`providers.base.Credentials` backed by an OAuthGrant row.

    The row read is reused for `reuse_seconds`: a client making many calls (a delivery run, a
    sync) reads and decrypts it about once, not once a call. A token another process refreshed
    meanwhile leaves ours valid until it expires (both providers), a token about to expire is
    refreshed first, and a rejected one is always read again (`refreshed`). What the reuse
    delays is noticing a grant disconnected or declared dead elsewhere while its access token
    still works (Xero revokes only the refresh token): a client goes on for `reuse_seconds` at
    most. Delivery checks the organization's connection before every action anyway."""

    def __init__(
        self,
        grant_id: int,
        sessions: sessionmaker[Session],
        cipher: TokenCipher,
        redis: Redis,
        refresher: Refresher,
        lock_timeout: int = 60,
        reuse_seconds: float = 30.0,
    ):
        self.grant_id = grant_id
        self._sessions = sessions
        self._cipher = cipher
        self._redis = redis
        self._refresher = refresher
        self._lock_timeout = lock_timeout
        self._reuse_seconds = reuse_seconds
        self._read: tuple[float, Token] | None = None

    def token(self) -> Token:
        """The stored token (as read less than `reuse_seconds` ago); GrantDead once the grant
        is no longer active."""
        if self._read is not None and time.monotonic() - self._read[0] < self._reuse_seconds:
            return self._read[1]
        return self._stored()

    def _stored(self) -> Token:
        with session_scope(self._sessions) as session:
            grant = session.get(OAuthGrant, self.grant_id)
            if grant is None or grant.status != "active":
                self._read = None
                raise GrantDead("this connection needs to be reconnected")
            token = self._cipher.decrypt(grant.token_ciphertext)
        self._read = (time.monotonic(), token)
        return token

    def refresh_token(self) -> str:
        """For revoking the grant at disconnect (Xero revokes refresh tokens only)."""
        return str(self._stored().get("refresh_token", ""))

    def access_token(self) -> str:
        """An access token good for a while yet: refreshed first when it expires within
        REFRESH_LEEWAY."""
        token = self.token()
        expiry = expires_at(token)
        if expiry is not None and expiry - REFRESH_LEEWAY <= utcnow():
            return self.refreshed(token["access_token"])
        return str(token["access_token"])

    def refreshed(self, rejected: str) -> str:
        """A fresh access token after `rejected` failed or expired: refreshed under the grant's
        lock unless another worker already did (see the module doc)."""
        lock = self._redis.lock(
            f"dunwell:lock:grant:{self.grant_id}",
            timeout=self._lock_timeout,
            blocking_timeout=self._lock_timeout,
        )
        with lock:
            current = self._stored()
            if current["access_token"] != rejected and not _expiring(current):
                return str(current["access_token"])
            return self._refresh_locked(current)

    def _refresh_locked(self, current: Token) -> str:
        try:
            fresh = self._refresher(current["refresh_token"])
        except InvalidGrant:
            stored = self._stored()
            if stored.get("refresh_token") != current.get("refresh_token"):
                return str(stored["access_token"])
            mark_grant_dead(self._sessions, self.grant_id, "The refresh token was refused.")
            self._read = None
            raise GrantDead("the provider refused the refresh token; reconnect") from None
        fresh.setdefault("refresh_token", current["refresh_token"])
        with session_scope(self._sessions) as session:
            grant = session.get(OAuthGrant, self.grant_id)
            assert grant is not None
            store_token(grant, fresh, self._cipher)
        self._read = (time.monotonic(), fresh)
        log.info("refreshed grant %s", self.grant_id)
        return str(fresh["access_token"])


def _expiring(token: Token) -> bool:
    expiry = expires_at(token)
    return expiry is not None and expiry - REFRESH_LEEWAY <= utcnow()


def mark_grant_dead(sessions: sessionmaker[Session], grant_id: int, detail: str) -> None:
    """The provider refused the grant for good: its organizations need a person to reconnect."""
    with session_scope(sessions) as session:
        session.execute(
            update(OAuthGrant).where(OAuthGrant.id == grant_id).values(status="needs_reconnect")
        )
        session.execute(
            update(Organization)
            .where(
                Organization.grant_id == grant_id,
                Organization.status == OrgStatus.CONNECTED,
            )
            .values(status=OrgStatus.NEEDS_RECONNECT, status_detail=detail)
        )


if __name__ == "__main__":
    print(Fernet.generate_key().decode())
