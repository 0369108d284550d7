"""The people who can sign in at the sandbox's consent pages.

A person has one login at Intuit and one at Xero, with the same email: Intuit knows them by a
UUID `sub`, Xero by a UUID `xero_userid` (its `sub` is the same UUID without dashes). Both ids
are made from the seed and the email, so a person keeps their ids across sandbox restarts and a
Dunwell user signs in again as the same person. Three people are seeded; tests and the demo add
more through `POST /_sandbox/users`.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass

SEEDED = (
    ("avery.quinn@larkspur.example", "Avery", "Quinn"),
    ("blake.harper@larkspur.example", "Blake", "Harper"),
    ("casey.moreau@kiwikitchens.example", "Casey", "Moreau"),
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class SandboxUser:
    key: str
    email: str
    given_name: str
    family_name: str
    intuit_sub: str
    xero_userid: str
    email_verified: bool = True

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def xero_sub(self) -> str:
        return self.xero_userid.replace("-", "")

    def describe(self) -> dict[str, object]:
        return {
            "key": self.key,
            "email": self.email,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "email_verified": self.email_verified,
            "intuit_sub": self.intuit_sub,
            "xero_userid": self.xero_userid,
        }


class Directory:
    """Every sandbox user, in the order they were added (the first is the default)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._users: dict[str, SandboxUser] = {}
        for email, given, family in SEEDED:
            self.add(email, given, family)

    def add(
        self, email: str, given_name: str, family_name: str, email_verified: bool = True
    ) -> SandboxUser:
        """A new user, or the one with this email already (unchanged). Raises ValueError."""
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise ValueError("email must be an email address")
        with self._lock:
            for user in self._users.values():
                if user.email == email:
                    return user
            user = SandboxUser(
                key=f"u{len(self._users) + 1}",
                email=email,
                given_name=given_name.strip(),
                family_name=family_name.strip(),
                intuit_sub=str(uuid.uuid5(uuid.NAMESPACE_URL, f"intuit/{self.seed}/{email}")),
                xero_userid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"xero/{self.seed}/{email}")),
                email_verified=email_verified,
            )
            self._users[user.key] = user
            return user

    def all(self) -> list[SandboxUser]:
        with self._lock:
            return list(self._users.values())

    def get(self, key: str | None) -> SandboxUser | None:
        """The user `key`; the first user when no key is given (a consent form without one)."""
        with self._lock:
            if not key:
                return next(iter(self._users.values()))
            return self._users.get(key)

    def by_xero_userid(self, xero_userid: str) -> SandboxUser | None:
        return next((u for u in self.all() if u.xero_userid == xero_userid), None)
