"""Xero webhooks: the `x-xero-signature` check and events -> ChangeNotices.

Xero signs the raw body: base64(HMAC-SHA256(webhook key, body)). Before it enables a webhook it
sends "intent to receive" bodies with no events, some signed wrongly, and expects 401 for those
and 200 for the rest. Events carry ids only (and, for CREDITNOTE, the document's Type); eventType
is CREATE or UPDATE (voids, deletes and payments arrive as INVOICE UPDATE). `eventDateUtc` has no
zone designator and means UTC. One body can mix tenants.
See https://developer.xero.com/documentation/guides/webhooks/overview/
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from providers.base import ChangeNotice
from providers.base import Entity
from providers.jsonbody import decode_untrusted
from providers.webhook_events import BadEvent
from providers.webhook_events import identifier
from providers.webhook_events import parse_each
from providers.xero.dates import instant

SIGNATURE_HEADER = "x-xero-signature"

_CATEGORIES = {
    "INVOICE": Entity.INVOICE,
    "CONTACT": Entity.CUSTOMER,
    "CREDITNOTE": Entity.CREDIT_NOTE,
}
# CREDITNOTE events say which kind of credit note changed; supplier ones are not ours.
_IGNORED_CREDIT_TYPES = ("ACCPAYCREDIT",)


def signature(body: bytes, key: str) -> str:
    """The value Xero puts in x-xero-signature for `body`."""
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(headers: Mapping[str, str], body: bytes, key: str) -> bool:
    """True when the (case-insensitively named) signature header matches the raw body."""
    if not key:
        return False
    sent = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not sent:
        return False
    expected = signature(body, key).encode("ascii")
    return hmac.compare_digest(expected, sent.strip().encode("utf-8"))


def parse(body: bytes) -> list[ChangeNotice]:
    """Notices for the invoice, contact and customer credit-note events in a webhook body.

    Intent-to-receive bodies give []. Categories we do not mirror (SUBSCRIPTION, ...) are
    skipped; an event that cannot be read comes back as a rejected notice with the reason
    (providers.webhook_events). A body that is not a Xero webhook raises ValueError.
    """
    try:
        doc = decode_untrusted(body)
    except ValueError as exc:
        raise ValueError("Xero webhook body is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ValueError("Xero webhook body has no events list")
    return parse_each(doc["events"], _notice, lambda e: (e.get("tenantId"), e.get("resourceId")))


def _notice(event: dict[str, Any]) -> ChangeNotice | None:
    tenant, category, resource, kind = (
        identifier(event, name) for name in ("tenantId", "eventCategory", "resourceId", "eventType")
    )
    entity = _CATEGORIES.get(category.upper())
    data = event["data"] if isinstance(event.get("data"), dict) else {}
    if entity is None or data.get("Type") in _IGNORED_CREDIT_TYPES:
        return None
    when = event.get("eventDateUtc")
    try:
        occurred_at = instant(when) if when else None
    except ValueError as exc:
        raise BadEvent(f"eventDateUtc: {exc}") from None
    return ChangeNotice(
        tenant_external_id=tenant,
        entity=entity,
        external_id=resource,
        operation=kind.lower(),
        occurred_at=occurred_at,
        dedupe_key=dedupe_key(tenant, category, resource, kind, str(when or "")),
    )


def dedupe_key(*parts: str) -> str:
    """A stable key for one event, the same on every redelivery."""
    return "xero:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
