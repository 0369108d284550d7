"""A third accounting system, "Third Books", that exists only in tests: one folder, registered
with `providers.register`, to prove that a provider needs nothing outside its folder.

Its ledger is `LEDGER` (records in memory); its webhooks are JSON lists of changed ids signed
with HMAC-SHA256 of the body under the webhook key, in the `X-Third-Signature` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import ClassVar

from providers.base import AnyRecord
from providers.base import ChangeNotice
from providers.base import Credentials
from providers.base import Entity
from providers.base import Limiter
from providers.base import OAuthSpec
from providers.base import Tenant
from providers.base import Unsupported
from providers.base import WriteCommand
from providers.base import WriteResult

LEDGER: dict[Entity, dict[str, AnyRecord]] = {entity: {} for entity in Entity}
SIGNATURE = "X-Third-Signature"


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


class ThirdBooks:
    name: ClassVar[str] = "third"
    change_window: ClassVar[timedelta | None] = None
    bad_signature_status: ClassVar[int] = 401

    def __init__(
        self, settings: Any, tenant_id: str, credentials: Credentials, limiter: Limiter
    ) -> None:
        self.settings, self.tenant_id = settings, tenant_id
        self.credentials, self.limiter = credentials, limiter

    @classmethod
    def oauth(cls, settings: Any) -> OAuthSpec:
        return OAuthSpec.from_settings(settings, ("ledger.read", "ledger.write"))

    @classmethod
    def identify(
        cls, settings: Any, credentials: Credentials, callback_args: Mapping[str, str]
    ) -> list[Tenant]:
        return [Tenant(external_id=callback_args.get("ledger", "L1"), name="Third Ledger")]

    @staticmethod
    def verify_webhook(headers: Mapping[str, str], body: bytes, key: str) -> bool:
        return hmac.compare_digest(headers.get(SIGNATURE, ""), sign(body, key))

    @staticmethod
    def parse_webhook(body: bytes) -> list[ChangeNotice]:
        return [
            ChangeNotice(
                tenant_external_id=event["ledger"],
                entity=Entity(event["entity"]),
                external_id=event["id"],
                operation="update",
                occurred_at=datetime.now(UTC),
                dedupe_key=f"{event['ledger']}:{event['entity']}:{event['id']}:{event['seq']}",
            )
            for event in json.loads(body)
        ]

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        self.credentials.access_token()  # as a real client would, to call the API
        rows = sorted(LEDGER[entity].values(), key=lambda r: (r.updated_at, r.external_id))
        rows = [r for r in rows if since is None or r.updated_at >= since]
        if rows:
            yield rows

    def get(self, entity: Entity, external_id: str) -> AnyRecord | None:
        return LEDGER[entity].get(external_id)

    def write(self, command: WriteCommand, *, idempotency_key: str) -> WriteResult:
        raise Unsupported("Third Books takes no writes")

    def invoice_links(self, invoice_ids: Sequence[str]) -> dict[str, str]:
        return {}

    def cap_waits(self, seconds: float) -> None:
        return None

    def disconnect(self, *, revoke_grant: bool) -> None:
        return None
