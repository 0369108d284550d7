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
import json
from collections.abc import Mapping
from typing import Any

from providers.base import ChangeNotice
from providers.base import Entity
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
    skipped. A body that is not a Xero webhook raises ValueError.
    """
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError("Xero webhook body is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise ValueError("Xero webhook body has no events list")
    notices = (_notice(event) for event in doc["events"])
    return [notice for notice in notices if notice is not None]


def _notice(event: Any) -> ChangeNotice | None:
    if not isinstance(event, dict):
        raise ValueError("Xero webhook event is not an object")
    fields = [event.get(name) for name in ("tenantId", "eventCategory", "resourceId", "eventType")]
    if not all(isinstance(value, str) and value for value in fields):
        raise ValueError("Xero webhook event lacks tenantId, eventCategory, resourceId, eventType")
    tenant, category, resource, kind = fields
    entity = _CATEGORIES.get(category.upper())
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if entity is None or data.get("Type") in _IGNORED_CREDIT_TYPES:
        return None
    when = event.get("eventDateUtc")
    return ChangeNotice(
        tenant_external_id=tenant,
        entity=entity,
        external_id=resource,
        operation=kind.lower(),
        occurred_at=instant(when) if when else None,
        dedupe_key=dedupe_key(tenant, category, resource, kind, str(when or "")),
    )


def dedupe_key(*parts: str) -> str:
    """A stable key for one event, the same on every redelivery."""
    return "xero:" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
