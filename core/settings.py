"""Configuration from the environment; each provider's own is read by its config module.

`Settings.from_env()` is the only place that reads `os.environ`. It fails fast, at start-up, with
one message that names every missing or malformed variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from providers import settings_from_env as provider_settings_from_env
from providers.config import ProviderSettings


class SettingsError(ValueError):
    """The environment does not describe a runnable Dunwell."""


SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
SMTP_SECURITY = tuple(SMTP_DEFAULT_PORTS)


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach one SMTP server: the platform's default (SMTP_URL) or an organization's own.

    `security` is "starttls" (upgrade a plain connection), "tls" (implicit TLS, usually port 465)
    or "none". Certificates are always verified; `ca_file` names a CA bundle to trust instead of
    the system's (a private CA, or a test's self-signed certificate).
    """

    host: str
    port: int
    security: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 20.0
    ca_file: str = ""

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """smtp://user:pass@host:port?security=starttls|tls|none&timeout=20&ca_file=/path
        (smtps:// means implicit TLS); raises ValueError naming what is wrong."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://user:password@host:587?security=starttls")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        security = query.get("security", "tls" if parts.scheme == "smtps" else "starttls")
        if security not in SMTP_SECURITY:
            raise ValueError(f"security must be one of {', '.join(SMTP_SECURITY)}")
        try:
            port = parts.port or SMTP_DEFAULT_PORTS[security]
            timeout = float(query.get("timeout", 20))
        except ValueError:
            raise ValueError("has a port or timeout that is not a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            security=security,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            timeout=timeout,
            ca_file=query.get("ca_file", ""),
        )


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    secret_key: str = field(repr=False)
    token_encryption_keys: tuple[str, ...] = field(repr=False)
    # Each registered provider's OAuth client and endpoints, read by its own config module.
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    public_url: str = "http://127.0.0.1:5000"
    webhook_max_bytes: int = 1_000_000
    mirror_freshness_minutes: int = 180
    safety_sync_minutes: int = 60
    # Seconds between a write's retries after an outage; one more failure makes it a dead letter.
    delivery_retry_seconds: tuple[int, ...] = (30, 120, 600, 1800, 3600)
    # How long a worker holds an action it is writing; past that, the action is resumed by
    # another worker (the first one is taken to have died mid-write).
    delivery_lease_seconds: int = 120
    # How many actions of one organization's delivery run are written at once (each lane has
    # its own provider client and SMTP connection; one customer's actions stay in one lane).
    # One by default: with several, a worker killed mid-run is likelier to die between the mail
    # server's acceptance of a reminder and its receipt, and that reminder is sent again.
    delivery_lanes: int = 1
    work_time_limit_seconds: float = 20.0
    smtp: SmtpSettings | None = None  # the platform's mail server, for organizations without one
    mail_from: str = ""  # the platform's sender, "Name <address>" or an address
    testing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        problems: list[str] = []
        secret_key = env.get("SECRET_KEY", "")
        if len(secret_key) < 16:
            problems.append("SECRET_KEY must be set to a random string of at least 16 characters")
        keys = tuple(k.strip() for k in env.get("TOKEN_ENCRYPTION_KEY", "").split(",") if k.strip())
        if not keys:
            problems.append(
                "TOKEN_ENCRYPTION_KEY must be set (one or more Fernet keys, comma-separated, "
                "newest first); make one with: python -m core.tokens"
            )
        providers = provider_settings_from_env(env, problems)
        ints = {}
        for name, default in (
            ("WEBHOOK_MAX_BYTES", 1_000_000),
            ("MIRROR_FRESHNESS_MINUTES", 180),
            ("SAFETY_SYNC_MINUTES", 60),
            ("WORK_TIME_LIMIT_SECONDS", 20),
            ("DELIVERY_LEASE_SECONDS", 120),
            ("DELIVERY_LANES", 1),
        ):
            try:
                ints[name] = int(env.get(name, default))
            except ValueError:
                problems.append(f"{name} must be a whole number")
        if ints.get("DELIVERY_LEASE_SECONDS", 1) < 1:
            problems.append("DELIVERY_LEASE_SECONDS must be at least 1")
        if not 1 <= ints.get("DELIVERY_LANES", 1) <= 32:
            problems.append("DELIVERY_LANES must be between 1 and 32")
        retry_seconds = _seconds_list(env.get("DELIVERY_RETRY_SECONDS", "30,120,600,1800,3600"))
        if retry_seconds is None:
            problems.append(
                "DELIVERY_RETRY_SECONDS must be whole numbers of seconds, comma-separated"
            )
        smtp = _smtp(env, problems)
        if problems:
            raise SettingsError("Dunwell cannot start:\n  - " + "\n  - ".join(problems))
        return cls(
            database_url=env.get("DATABASE_URL") or default_database_url(),
            redis_url=env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            secret_key=secret_key,
            token_encryption_keys=keys,
            providers=providers,
            public_url=env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            webhook_max_bytes=ints["WEBHOOK_MAX_BYTES"],
            mirror_freshness_minutes=ints["MIRROR_FRESHNESS_MINUTES"],
            safety_sync_minutes=ints["SAFETY_SYNC_MINUTES"],
            delivery_retry_seconds=retry_seconds or (),
            work_time_limit_seconds=ints["WORK_TIME_LIMIT_SECONDS"],
            delivery_lease_seconds=ints["DELIVERY_LEASE_SECONDS"],
            delivery_lanes=ints["DELIVERY_LANES"],
            smtp=smtp,
            mail_from=env.get("MAIL_FROM", "").strip(),
        )

    @staticmethod
    def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
        """Only the database, for tools (migrations) that need nothing else."""
        env = os.environ if environ is None else environ
        return env.get("DATABASE_URL") or default_database_url()

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def provider(self, name: str) -> ProviderSettings:
        """The provider's settings (empty, so not `configured`, for one this server lacks)."""
        return self.providers.get(name) or ProviderSettings()


def _seconds_list(text: str) -> tuple[int, ...] | None:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        return None
    return values if values and all(v >= 0 for v in values) else None


def default_database_url() -> str:
    instance = Path(__file__).resolve().parent.parent / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'dunwell.sqlite3'}"


def _smtp(env: dict[str, str], problems: list[str]) -> SmtpSettings | None:
    """The platform mail server (SMTP_URL) and its sender (MAIL_FROM); both optional, together."""
    url, sender = env.get("SMTP_URL", "").strip(), env.get("MAIL_FROM", "").strip()
    if sender and ("@" not in sender or any(c in sender for c in "\r\n")):
        problems.append("MAIL_FROM must be an address, or 'Name <address>'")
    if not url:
        return None
    if not sender:
        problems.append("MAIL_FROM must be set with SMTP_URL (the platform's sender address)")
    try:
        return SmtpSettings.from_url(url)
    except ValueError as exc:
        problems.append(f"SMTP_URL {exc}")
        return None
