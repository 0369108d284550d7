"""What the sandbox's OpenID Connect holds: the people, a signing key per provider, and the
id_token faults a test can arm (`POST /_sandbox/oidc/faults`).

Fault kinds, each spoiling the next `count` id_tokens of one provider:
- "expired": issued and expired two hours ago;
- "forged": signed by a key the JWKS does not publish (same kid);
- "wrong_nonce": carries another nonce than the client sent;
- "wrong_audience": issued to another client.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app

from sandbox.oidc.keys import SigningKey
from sandbox.oidc.users import Directory

EXTENSION = "sandbox_oidc"
PROVIDERS = ("quickbooks", "xero")
FAULTS = ("expired", "forged", "wrong_nonce", "wrong_audience")


class Oidc:
    def __init__(self, seed: int) -> None:
        self.users = Directory(seed)
        self.keys = {"quickbooks": SigningKey("intuit"), "xero": SigningKey("xero")}
        self._lock = threading.Lock()
        self._faults: dict[str, list[str]] = {provider: [] for provider in PROVIDERS}

    def arm(self, provider: str, kind: str, count: int = 1) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
        if kind not in FAULTS:
            raise ValueError(f"kind must be one of {', '.join(FAULTS)}")
        if not isinstance(count, int) or count < 1:
            raise ValueError("count must be a whole number of at least 1")
        with self._lock:
            self._faults[provider].extend([kind] * count)

    def clear(self) -> None:
        with self._lock:
            for pending in self._faults.values():
                pending.clear()

    def armed(self) -> dict[str, list[str]]:
        with self._lock:
            return {provider: list(kinds) for provider, kinds in self._faults.items()}

    def issue(self, provider: str, claims: dict[str, Any]) -> str:
        """Sign `claims` as `provider`'s id_token, spoiled by the next armed fault if any."""
        with self._lock:
            pending = self._faults[provider]
            fault = pending.pop(0) if pending else None
        claims = dict(claims)
        if fault == "expired":
            shift = 7200
            for name in ("iat", "nbf", "auth_time", "exp"):
                if name in claims:
                    claims[name] -= shift
            claims["exp"] = int(time.time()) - 3600
        elif fault == "wrong_nonce":
            claims["nonce"] = "a-nonce-this-client-never-sent"
        elif fault == "wrong_audience":
            claims["aud"] = ["another-client"] if isinstance(claims["aud"], list) else "another"
        key = self.keys[provider]
        return key.forge(claims) if fault == "forged" else key.sign(claims)


def current() -> Oidc:
    return current_app.extensions[EXTENSION]
