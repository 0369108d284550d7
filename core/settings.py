"""Configuration from the environment.

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


class SettingsError(ValueError):
    """The environment does not describe a runnable Dunwell."""


INTUIT_DEFAULTS = {
    "INTUIT_AUTHORIZE_URL": "https://appcenter.intuit.com/connect/oauth2",
    "INTUIT_TOKEN_URL": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
    "INTUIT_REVOKE_URL": "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
    "INTUIT_API_BASE_PRODUCTION": "https://quickbooks.api.intuit.com",
    "INTUIT_API_BASE_SANDBOX": "https://sandbox-quickbooks.api.intuit.com",
    "INTUIT_DISCOVERY_URL_PRODUCTION": (
        "https://developer.intuit.com/.well-known/openid_configuration/"
    ),
    "INTUIT_DISCOVERY_URL_SANDBOX": (
        "https://developer.intuit.com/.well-known/openid_sandbox_configuration/"
    ),
}

XERO_DEFAULTS = {
    "XERO_AUTHORIZE_URL": "https://login.xero.com/identity/connect/authorize",
    "XERO_TOKEN_URL": "https://identity.xero.com/connect/token",
    "XERO_REVOKE_URL": "https://identity.xero.com/connect/revocation",
    "XERO_CONNECTIONS_URL": "https://api.xero.com/connections",
    "XERO_API_BASE": "https://api.xero.com/api.xro/2.0",
    "XERO_DISCOVERY_URL": "https://identity.xero.com/.well-known/openid-configuration",
}


@dataclass(frozen=True)
class ProviderSettings:
    """OAuth client and endpoints of one provider."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = ""
    webhook_key: str = field(default="", repr=False)
    authorize_url: str = ""
    token_url: str = ""
    revoke_url: str = ""
    api_base: str = ""
    connections_url: str = ""
    discovery_url: str = ""  # OpenID Connect discovery ("Sign in with Intuit / Xero")

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


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
    quickbooks: ProviderSettings = ProviderSettings()
    xero: ProviderSettings = ProviderSettings()
    intuit_environment: str = "production"
    public_url: str = "http://127.0.0.1:5000"
    webhook_max_bytes: int = 1_000_000
    mirror_freshness_minutes: int = 180
    safety_sync_minutes: int = 60
    # Seconds between a write's retries after an outage; one more failure makes it a dead letter.
    delivery_retry_seconds: tuple[int, ...] = (30, 120, 600, 1800, 3600)
    # How long a worker holds an action it is writing; past that, the action is resumed by
    # another worker (the first one is taken to have died mid-write).
    delivery_lease_seconds: int = 120
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
        environment = env.get("INTUIT_ENVIRONMENT", "production").lower()
        if environment not in ("production", "sandbox"):
            problems.append("INTUIT_ENVIRONMENT must be 'production' or 'sandbox'")
        ints = {}
        for name, default in (
            ("WEBHOOK_MAX_BYTES", 1_000_000),
            ("MIRROR_FRESHNESS_MINUTES", 180),
            ("SAFETY_SYNC_MINUTES", 60),
            ("WORK_TIME_LIMIT_SECONDS", 20),
            ("DELIVERY_LEASE_SECONDS", 120),
        ):
            try:
                ints[name] = int(env.get(name, default))
            except ValueError:
                problems.append(f"{name} must be a whole number")
        if ints.get("DELIVERY_LEASE_SECONDS", 1) < 1:
            problems.append("DELIVERY_LEASE_SECONDS must be at least 1")
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
            quickbooks=_quickbooks(env, environment),
            xero=_xero(env),
            intuit_environment=environment,
            public_url=env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            webhook_max_bytes=ints["WEBHOOK_MAX_BYTES"],
            mirror_freshness_minutes=ints["MIRROR_FRESHNESS_MINUTES"],
            safety_sync_minutes=ints["SAFETY_SYNC_MINUTES"],
            delivery_retry_seconds=retry_seconds or (),
            work_time_limit_seconds=ints["WORK_TIME_LIMIT_SECONDS"],
            delivery_lease_seconds=ints["DELIVERY_LEASE_SECONDS"],
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
        return {"quickbooks": self.quickbooks, "xero": self.xero}[name]


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


def _quickbooks(env: dict[str, str], environment: str) -> ProviderSettings:
    defaults = INTUIT_DEFAULTS
    api_default = defaults[f"INTUIT_API_BASE_{environment.upper()}"]
    discovery_default = defaults[f"INTUIT_DISCOVERY_URL_{environment.upper()}"]
    return ProviderSettings(
        client_id=env.get("INTUIT_CLIENT_ID", ""),
        client_secret=env.get("INTUIT_CLIENT_SECRET", ""),
        redirect_uri=env.get("INTUIT_REDIRECT_URI", ""),
        webhook_key=env.get("INTUIT_WEBHOOK_VERIFIER_TOKEN", ""),
        authorize_url=env.get("INTUIT_AUTHORIZE_URL", defaults["INTUIT_AUTHORIZE_URL"]),
        token_url=env.get("INTUIT_TOKEN_URL", defaults["INTUIT_TOKEN_URL"]),
        revoke_url=env.get("INTUIT_REVOKE_URL", defaults["INTUIT_REVOKE_URL"]),
        api_base=env.get("INTUIT_API_BASE", api_default).rstrip("/"),
        discovery_url=env.get("INTUIT_DISCOVERY_URL", discovery_default),
    )


def _xero(env: dict[str, str]) -> ProviderSettings:
    defaults = XERO_DEFAULTS
    return ProviderSettings(
        client_id=env.get("XERO_CLIENT_ID", ""),
        client_secret=env.get("XERO_CLIENT_SECRET", ""),
        redirect_uri=env.get("XERO_REDIRECT_URI", ""),
        webhook_key=env.get("XERO_WEBHOOK_KEY", ""),
        authorize_url=env.get("XERO_AUTHORIZE_URL", defaults["XERO_AUTHORIZE_URL"]),
        token_url=env.get("XERO_TOKEN_URL", defaults["XERO_TOKEN_URL"]),
        revoke_url=env.get("XERO_REVOKE_URL", defaults["XERO_REVOKE_URL"]),
        api_base=env.get("XERO_API_BASE", defaults["XERO_API_BASE"]).rstrip("/"),
        connections_url=env.get("XERO_CONNECTIONS_URL", defaults["XERO_CONNECTIONS_URL"]),
        discovery_url=env.get("XERO_DISCOVERY_URL", defaults["XERO_DISCOVERY_URL"]),
    )
