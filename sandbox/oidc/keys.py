"""The signing key of one provider's OpenID Connect: RS256 id_tokens and the JWKS that checks them.

Each sandbox run makes a fresh 2048-bit RSA key per provider, as a provider rotates its keys: a
client must read the key from the JWKS (by `kid`), never keep one. `forge()` signs with a key the
JWKS does not publish, under the same `kid`, for tests that a forged token is refused.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import RSAKey


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    """OpenID Connect's `at_hash`: the left half of the access token's SHA-256, base64url."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return b64url(digest[: len(digest) // 2])


class SigningKey:
    """An RSA key pair; `style` is "intuit" (a short random kid) or "xero" (kid and x5t from the
    key's SHA-1 thumbprint, as Xero publishes them)."""

    def __init__(self, style: str) -> None:
        self._key = _new_key()
        self._stranger = _new_key()
        thumbprint = hashlib.sha1(_public_der(self._key), usedforsecurity=False).digest()
        self.header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
        if style == "xero":
            self.header |= {"kid": thumbprint.hex().upper(), "x5t": b64url(thumbprint)}
        else:
            self.header["kid"] = b64url(thumbprint)[:20]

    @property
    def kid(self) -> str:
        return self.header["kid"]

    def jwks(self) -> dict[str, Any]:
        public = self._key.as_dict(private=False)
        entry = {"kty": "RSA", "use": "sig", "alg": "RS256", "e": public["e"], "n": public["n"]}
        entry.update({k: v for k, v in self.header.items() if k in ("kid", "x5t")})
        return {"keys": [entry]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(self.header, claims, self._key)

    def forge(self, claims: dict[str, Any]) -> str:
        """Signed by a key that is not in the JWKS, under the published kid."""
        return jwt.encode(self.header, claims, self._stranger)


def _new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, private=True)


def _public_der(key: RSAKey) -> bytes:
    public = key.public_key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
