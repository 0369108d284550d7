"""Helpers for the provider contract tests: a sandbox per provider, a real OAuth grant and a
webhook catcher (the checks every record must pass are in `contract_checks`).

Only this module knows how the sandboxes differ (control paths, field names, where an invoice's
notes are read, drafts, how to retry without sleeping); the tests see one `Sandbox` interface. A
third provider needs a `Flavour`, branches in `Sandbox.note_count`, `Sandbox.draft_invoice_id`
and `World.impatient_provider`, and a sandbox with the same control endpoints.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urljoin
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from core.settings import Settings
from core.tokens import GrantDead
from core.tokens import InvalidGrant
from core.tokens import Refresher
from core.tokens import authlib_refresher
from demo.browser import form_data
from demo.browser import forms
from providers import provider_class
from providers.base import Entity
from providers.base import Limiter
from providers.base import Provider
from providers.base import Reauthorize
from providers.base import Tenant
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.xero import Xero
from tests.conftest import dunwell_env
from tests.servers import provider_urls
from tests.servers import sandbox_server
from tests.servers import serve

PROVIDERS = ("quickbooks", "xero")
# The contract for a dead grant: the provider's own Reauthorize, or the credentials' dead-grant
# error passed through unchanged (a refresh refused with invalid_grant).
DEAD_GRANT = (Reauthorize, GrantDead)
TIMEOUT = 10


# ---------------------------------------------------------------- the sandboxes' control APIs


@dataclass(frozen=True)
class Flavour:
    """How one sandbox's control API names things."""

    control: str
    open_totals_key: str
    email_invoice_key: str
    unknown_id: str


FLAVOURS = {
    "quickbooks": Flavour("/_sandbox/quickbooks", "open_balance", "invoice_id", "987654321"),
    "xero": Flavour(
        "/_sandbox/xero", "openAmountDue", "invoiceId", "0badc0de-0000-4000-8000-000000000000"
    ),
}


class Sandbox:
    """The control API of one provider's sandbox, for one tenant."""

    def __init__(self, base_url: str, name: str, tenant_id: str = "") -> None:
        self.base_url = base_url
        self.name = name
        self.tenant_id = tenant_id
        self.flavour = FLAVOURS[name]
        self.http = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        prefix = "" if path.startswith("/_sandbox/") else self.flavour.control
        url = self.base_url + prefix + path
        response = self.http.request(method, url, json=body, timeout=TIMEOUT)
        assert response.status_code < 400, f"{method} {url}: {response.status_code} {response.text}"
        return response.json()

    def open_totals(self) -> dict[str, Decimal]:
        summary = self.call("GET", f"/{self.tenant_id}/summary")
        totals = summary[self.flavour.open_totals_key].items()
        return {cur: Decimal(value) for cur, value in totals if Decimal(value)}

    def open_invoices(self) -> list[dict[str, Any]]:
        return self.call("GET", f"/{self.tenant_id}/open-invoices")["invoices"]

    def pay(self, invoice_id: str, amount: Decimal) -> None:
        body = {"invoice_id": invoice_id, "amount": str(amount)}
        self.call("POST", f"/{self.tenant_id}/payments", body)

    def emailed_invoices(self) -> list[str]:
        emails = self.call("GET", f"/{self.tenant_id}/emails")["emails"]
        return [str(e[self.flavour.email_invoice_key]).lower() for e in emails]

    def expire_tokens(self) -> int:
        return int(self.call("POST", "/expire-tokens")["expired"])

    def arm(self, kind: str, count: int = 1, **spec: Any) -> None:
        """Arm a fault (see sandbox.faults: tenant, paths, methods, message, retry_after)."""
        body = {"provider": self.name, "kind": kind, "count": count, **spec}
        self.call("POST", "/_sandbox/faults", body)

    def writes(self) -> list[dict[str, Any]]:
        """The writes this tenant's API received, oldest first (the provider-side outbox)."""
        query = f"?provider={self.name}&tenant={self.tenant_id}"
        return list(self.call("GET", "/_sandbox/writes" + query)["writes"])

    def draft_invoice_id(self, provider: Any) -> str | None:
        """A sales invoice in the provider's own DRAFT state (QuickBooks has none)."""
        if self.name == "quickbooks":
            return None
        params = {"where": 'Type=="ACCREC"', "Statuses": "DRAFT"}
        drafts = provider.api.get("Invoices", params)["Invoices"]
        return str(drafts[0]["InvoiceID"]) if drafts else None

    def clear_faults(self) -> None:
        self.call("DELETE", "/_sandbox/faults")

    def clear_requests(self) -> None:
        self.call("DELETE", "/requests")

    def statuses(self) -> list[int]:
        """HTTP statuses of the provider API calls logged since `clear_requests`, in order."""
        return [int(entry["status"]) for entry in self.call("GET", "/requests")["requests"]]

    def note_count(self, provider: Any, invoice_id: str, text: str) -> int:
        """How often `text` is among the invoice's notes, read through the provider's session
        (QuickBooks: PrivateNote; Xero: the invoice's History)."""
        if self.name == "quickbooks":
            raw, _ = provider.read_raw(Entity.INVOICE, invoice_id)
            return str(raw.get("PrivateNote") or "").count(text)
        history = provider.api.get(f"Invoices/{invoice_id}/History")["HistoryRecords"]
        return sum(1 for entry in history if entry.get("Details") == text)

    def lift_rate_limits(self) -> None:
        """Xero's 60 calls a minute would make a fast suite wait; faults test throttling."""
        if self.name == "xero":
            self.call("POST", "/limits", {"per_minute": 10_000})


# ---------------------------------------------------------------- OAuth and credentials


class SandboxCredentials:
    """`Credentials` holding one token set in memory; refreshes through `authlib_refresher`.

    A refused refresh raises GrantDead, as core.tokens.GrantCredentials does.
    """

    def __init__(self, token: dict[str, Any], refresher: Refresher) -> None:
        self.token = token
        self.refreshes = 0
        self._refresher = refresher

    def access_token(self) -> str:
        return str(self.token["access_token"])

    def refresh_token(self) -> str:
        return str(self.token.get("refresh_token", ""))

    def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        if rejected != self.token["access_token"]:
            return self.access_token()
        try:
            fresh = self._refresher(self.token["refresh_token"])
        except InvalidGrant as exc:
            raise GrantDead("the sandbox refused the refresh token") from exc
        fresh.setdefault("refresh_token", self.token["refresh_token"])
        self.token = fresh
        return self.access_token()


class StuckCredentials:
    """Credentials whose refresh hands back the very token that was refused."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.refreshes = 0

    def access_token(self) -> str:
        return self.token

    def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        return self.token


def consent(authorize_url: str) -> str:
    """Approves the sandbox consent page as a person would; the callback URL it redirects to."""
    http = requests.Session()
    page = http.get(authorize_url, timeout=TIMEOUT)
    assert page.status_code == 200, page.text[:500]
    form = next(f for f in forms(page.text) if f["method"] == "post")
    answer = http.post(
        urljoin(page.url, form["action"]),
        data=form_data(form, ("allow", "approve")),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code in (302, 303), answer.text[:500]
    return answer.headers["Location"]


def authorize(name: str, config: ProviderSettings) -> tuple[dict[str, Any], dict[str, str]]:
    """The authorization code flow against the sandbox: (token, callback query arguments)."""
    spec = provider_class(name).oauth(config)
    state = secrets.token_urlsafe(16)
    with OAuth2Session(
        config.client_id,
        config.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=config.redirect_uri,
        token_endpoint_auth_method="client_secret_basic",
    ) as client:
        url, _ = client.create_authorization_url(
            spec.authorize_url, state=state, **dict(spec.extra_authorize_params)
        )
        args = dict(parse_qsl(urlsplit(consent(url)).query))
        assert args.get("state") == state and args.get("code"), args
        token = client.fetch_token(spec.token_url, code=args["code"], timeout=TIMEOUT)
    return dict(token), args


# ---------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class Capture:
    """A WSGI app that answers every webhook with 200 and keeps it for inspection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        delivery = Delivery(request.path, dict(request.headers), request.get_data())
        with self._lock:
            self._deliveries.append(delivery)
        return Response(status=200)(environ, start_response)

    def wait_for(self, match: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [d for d in self._deliveries if match(d)]
            if found:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook within {timeout}s")


# ---------------------------------------------------------------- one connected provider


@dataclass
class World:
    """One provider's sandbox with a real grant, connected to the first tenant it offers."""

    name: str
    config: ProviderSettings
    sandbox: Sandbox
    credentials: SandboxCredentials
    callback_args: dict[str, str]
    tenants: list[Tenant]
    capture: Capture | None = None

    @property
    def cls(self) -> type[Provider]:
        return provider_class(self.name)

    @property
    def tenant(self) -> Tenant:
        return self.tenants[0]

    def provider(self, limiter: Limiter) -> Provider:
        return self.cls(self.config, self.tenant.external_id, self.credentials, limiter=limiter)

    def impatient_provider(self, limiter: Limiter) -> Provider:
        """A provider that retries as usual but does not sleep between tries (fault tests)."""
        if self.name == "xero":
            return Xero(
                self.config,
                self.tenant.external_id,
                self.credentials,
                limiter=limiter,
                retry=RetryPolicy(sleep=lambda seconds: None),
            )
        provider = self.provider(limiter)
        provider.api.sleep = lambda seconds: None
        return provider


@dataclass
class Contract:
    """What a contract test gets: the world and a provider built for this test alone."""

    world: World
    provider: Provider

    @property
    def name(self) -> str:
        return self.world.name

    @property
    def sandbox(self) -> Sandbox:
        return self.world.sandbox

    @property
    def tenant(self) -> Tenant:
        return self.world.tenant

    @property
    def credentials(self) -> SandboxCredentials:
        return self.world.credentials


@contextmanager
def connected(
    name: str, folder: Path, capture_url: str = "", capture: Capture | None = None
) -> Iterator[World]:
    """A sandbox of its own, consented and identified, for the duration of the block."""
    with sandbox_server(webhook_base=capture_url, size="small") as url:
        config = Settings.from_env(dunwell_env(folder, **provider_urls(url))).provider(name)
        Sandbox(url, name).lift_rate_limits()
        token, args = authorize(name, config)
        refresher = authlib_refresher(config.client_id, config.client_secret, config.token_url)
        credentials = SandboxCredentials(token, refresher)
        tenants = provider_class(name).identify(config, credentials, args)
        assert tenants, f"{name}: identify found no tenant"
        sandbox = Sandbox(url, name, tenants[0].external_id)
        yield World(name, config, sandbox, credentials, args, tenants, capture)


@contextmanager
def capture_server() -> Iterator[tuple[str, Capture]]:
    capture = Capture()
    with serve(capture) as url:
        yield url, capture
