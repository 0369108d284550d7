"""The Xero provider: one organisation (tenant) of a Xero grant behind the Provider protocol."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import ClassVar

import requests

from providers.base import AnyRecord
from providers.base import ChangeNotice
from providers.base import Credentials
from providers.base import Entity
from providers.base import Limiter
from providers.base import NoLimiter
from providers.base import OAuthSpec
from providers.base import Tenant
from providers.base import WriteCommand
from providers.base import WriteResult
from providers.http import RetryPolicy
from providers.xero import identity
from providers.xero import links
from providers.xero import reads
from providers.xero import webhooks
from providers.xero.api import XeroApi
from providers.xero.writes import Writer

SCOPES = (
    "offline_access",
    "openid",
    "profile",
    "email",
    "accounting.invoices",
    "accounting.payments",
    "accounting.contacts",
    "accounting.settings.read",
)
_NO_LIMITER = NoLimiter()


class Xero:
    """Xero for one tenant. `settings` is duck-typed ProviderSettings (api_base,
    connections_url, revoke_url, client_id, client_secret, authorize_url, token_url)."""

    name: ClassVar[str] = "xero"
    # If-Modified-Since reaches back to the beginning: any cursor works.
    change_window: ClassVar[timedelta | None] = None
    # Xero's intent-to-receive check requires 401 for a wrongly signed delivery.
    bad_signature_status: ClassVar[int] = 401

    def __init__(
        self,
        settings: Any,
        tenant_id: str,
        credentials: Credentials,
        limiter: Limiter = _NO_LIMITER,
        http: requests.Session | None = None,
        *,
        connection_id: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.tenant_id = tenant_id
        self.connection_id = connection_id
        self._credentials = credentials
        self._http = http or requests.Session()
        self._retry = retry
        self.api = XeroApi(
            base_url=settings.api_base,
            tenant_id=tenant_id,
            credentials=credentials,
            limiter=limiter,
            http=self._http,
            retry=retry,
        )
        self._writer = Writer(self.api)

    @classmethod
    def oauth(cls, settings: Any) -> OAuthSpec:
        return OAuthSpec.from_settings(settings, SCOPES)

    @classmethod
    def identify(
        cls, settings: Any, credentials: Credentials, callback_args: Mapping[str, str]
    ) -> list[Tenant]:
        """Organisations added by this consent (Xero's callback carries no tenant)."""
        return identity.identify(settings, credentials)

    @staticmethod
    def verify_webhook(headers: Mapping[str, str], body: bytes, key: str) -> bool:
        return webhooks.verify(headers, body, key)

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeNotice]:
        return webhooks.parse(body)

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        """Pages of records changed at or after `since`, oldest first (see reads.py)."""
        return reads.list_changed(self.api, entity, since)

    def get(self, entity: Entity, external_id: str) -> AnyRecord | None:
        return reads.get(self.api, entity, external_id)

    def write(self, command: WriteCommand, *, idempotency_key: str) -> WriteResult:
        return self._writer.write(command, idempotency_key)

    def cap_waits(self, seconds: float) -> None:
        self.api.cap_waits(seconds)

    def invoice_links(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        """Each invoice's OnlineInvoiceUrl (none for a DRAFT invoice)."""
        return links.invoice_links(self.api, invoice_ids)

    def disconnect(self, *, revoke_grant: bool, refresh_token: str | None = None) -> None:
        """Delete this tenant's connection; with `revoke_grant`, also revoke the whole grant.

        Xero revokes refresh tokens only, and Credentials hands out access tokens: pass
        `refresh_token`, or offer `refresh_token()` on the credentials object. Without one the
        connection is still deleted and the grant is left to expire (logged).
        """
        api = identity.identity_api(self.settings, self._credentials, self._http, self._retry)
        url = self.settings.connections_url
        connection = self.connection_id or identity.connection_id(api, url, self.tenant_id)
        if connection:
            identity.delete_connection(api, url, connection)
        if revoke_grant:
            token = refresh_token or identity.refresh_token_of(self._credentials)
            identity.revoke(self.settings, self._http, token)
