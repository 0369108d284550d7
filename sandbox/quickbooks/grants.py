"""OAuth grants for the QuickBooks sandbox: authorization codes, access and refresh tokens.

Stricter than Intuit on purpose: the refresh token rotates on every refresh and the superseded one
is dead at once, so a client that loses a race or keeps an old token sees `invalid_grant`.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from sandbox.quickbooks.clock import Clock

ACCESS_SECONDS = 3600
REFRESH_SECONDS = 8_726_400  # 101 days, the value Intuit reports
HARD_EXPIRY_SECONDS = 5 * 365 * 86_400
CODE_SECONDS = 600
ALPHABET = string.ascii_letters + string.digits


def _token(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


@dataclass
class Grant:
    grant_id: int
    realm_id: str
    scope: str
    created: datetime
    user_key: str = ""  # the sandbox person who consented (sandbox.oidc.users)
    nonce: str = ""  # the authorize request's, for the id_token
    refresh_token: str = ""
    refresh_expires: datetime | None = None
    access: dict[str, datetime] = field(default_factory=dict)
    revoked: bool = False
    refreshes: int = 0


class GrantError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class Grants:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, dict[str, Any]] = {}
        self._grants: list[Grant] = []
        self._by_access: dict[str, Grant] = {}
        self._by_refresh: dict[str, Grant] = {}

    def issue_code(
        self, realm_id: str, redirect_uri: str, scope: str, user_key: str = "", nonce: str = ""
    ) -> str:
        """`realm_id` is "" for a sign-in only (no accounting scope)."""
        code = _token("AB11", 40)
        with self._lock:
            self._codes[code] = {
                "realm_id": realm_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "user_key": user_key,
                "nonce": nonce,
                "expires": self.clock.now() + timedelta(seconds=CODE_SECONDS),
                "used": False,
            }
        return code

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """The token response; its `_grant` (popped by the caller) is the new grant."""
        with self._lock:
            issued = self._codes.get(code)
            if issued is None or issued["used"] or issued["expires"] < self.clock.now():
                raise GrantError("invalid_grant", "authorization code is invalid or already used")
            if issued["redirect_uri"] != redirect_uri:
                raise GrantError(
                    "invalid_grant", "redirect_uri does not match the authorize request"
                )
            issued["used"] = True
            grant = Grant(
                len(self._grants) + 1,
                issued["realm_id"],
                issued["scope"],
                self.clock.now(),
                user_key=issued["user_key"],
                nonce=issued["nonce"],
            )
            self._grants.append(grant)
            return {**self._issue(grant), "_grant": grant}

    def refresh(self, refresh_token: str, revoked: Callable[[str], bool]) -> dict[str, Any]:
        """A new token pair; `revoked(realm_id)`: a fault killed that company's grant."""
        with self._lock:
            grant = self._by_refresh.get(refresh_token)
            now = self.clock.now()
            if grant is None or grant.revoked or revoked(grant.realm_id):
                raise GrantError("invalid_grant", "refresh token is invalid, superseded or revoked")
            if grant.refresh_expires is None or grant.refresh_expires < now:
                raise GrantError("invalid_grant", "refresh token expired")
            del self._by_refresh[refresh_token]
            grant.refreshes += 1
            return self._issue(grant)

    def _issue(self, grant: Grant) -> dict[str, Any]:
        now = self.clock.now()
        access = _token("eyJlbmMiOiJBMTI4Q0JDLUhTMjU2In0.qbo-sandbox.", 48)
        grant.access[access] = now + timedelta(seconds=ACCESS_SECONDS)
        self._by_access[access] = grant
        grant.refresh_token = _token("AB11", 46)
        grant.refresh_expires = now + timedelta(seconds=REFRESH_SECONDS)
        self._by_refresh[grant.refresh_token] = grant
        hard_left = grant.created + timedelta(seconds=HARD_EXPIRY_SECONDS) - now
        return {
            "access_token": access,
            "refresh_token": grant.refresh_token,
            "token_type": "bearer",
            "expires_in": ACCESS_SECONDS,
            "x_refresh_token_expires_in": REFRESH_SECONDS,
            "_hard_expires_in": int(hard_left.total_seconds()),
        }

    def revoke(self, token: str) -> bool:
        """Revoking either token of a grant ends the whole grant (the app loses the company)."""
        with self._lock:
            grant = self._by_access.get(token) or self._by_refresh.get(token)
            if grant is None:
                return False
            grant.revoked = True
            for access in grant.access:
                self._by_access.pop(access, None)
            self._by_refresh.pop(grant.refresh_token, None)
            return True

    def check_access(self, token: str) -> tuple[Grant | None, str]:
        with self._lock:
            grant = self._by_access.get(token)
            if grant is None or grant.revoked:
                return None, "Token revoked or unknown"
            if grant.access[token] <= self.clock.now():
                return None, f"Token expired: {token[-24:]}"
            return grant, ""

    def expire_all(self) -> int:
        with self._lock:
            past = self.clock.now() - timedelta(seconds=1)
            count = 0
            for grant in self._grants:
                for token in grant.access:
                    grant.access[token] = past
                    count += 1
            return count

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.clock.now()
            return [
                {
                    "grant_id": g.grant_id,
                    "realm_id": g.realm_id,
                    "scope": g.scope,
                    "revoked": g.revoked,
                    "refreshes": g.refreshes,
                    "live_access_tokens": sum(1 for t in g.access.values() if t > now),
                    "created": g.created.isoformat(),
                }
                for g in self._grants
            ]
