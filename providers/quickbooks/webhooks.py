"""QuickBooks webhooks: the `intuit-signature` check and both payload envelopes.

Intuit signs the raw body: `intuit-signature` = base64(HMAC-SHA256(verifier token, body)). Two
envelopes exist and both are accepted:
- classic: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated", "deletedId"?}]}}]}`;
- CloudEvents (mandatory from 2026): a JSON array of events with `type` = `qbo.<entity>.<op>.v1`,
  `intuitaccountid` (the realm), `intuitentityid` and a unique `id`.
One delivery may cover several realms. Operations are normalised to the classic verbs (Create,
Update, Delete, Merge, Void, Emailed). Entities Dunwell does not mirror (Account, Vendor, Term,
...) are returned with `entity=None`, so the caller can log them and decide; events missing a
realm or an id are skipped. `dedupe_key` is the CloudEvent `id`, or for classic events a SHA-256
of realm, entity, id, operation and lastUpdated. Payloads carry ids only: always re-fetch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any

from providers.base import ChangeNotice
from providers.base import Entity
from providers.quickbooks.mapping import parse_instant

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "intuit-signature"
ENTITIES = {
    "customer": Entity.CUSTOMER,
    "invoice": Entity.INVOICE,
    "payment": Entity.PAYMENT,
    "creditmemo": Entity.CREDIT_NOTE,
}
OPERATIONS = {
    "create": "Create",
    "created": "Create",
    "update": "Update",
    "updated": "Update",
    "delete": "Delete",
    "deleted": "Delete",
    "merge": "Merge",
    "merged": "Merge",
    "void": "Void",
    "voided": "Void",
    "emailed": "Emailed",
}


def sign(body: bytes, key: str) -> str:
    """The `intuit-signature` value Intuit would send for `body`."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(headers: Mapping[str, str], body: bytes, key: str) -> bool:
    """True when the `intuit-signature` header matches `body`; False if missing or garbled."""
    if not key:
        return False
    given = _header(headers, SIGNATURE_HEADER)
    if not given:
        return False
    try:
        received = base64.b64decode(given.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, received)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def parse(body: bytes) -> list[ChangeNotice]:
    """ChangeNotices from either envelope; ValueError for a body that is neither."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"QuickBooks webhook body is not valid JSON: {exc}") from exc
    if isinstance(data, list):
        return [n for event in data if (n := _cloud_event(event)) is not None]
    if isinstance(data, dict) and "eventNotifications" in data:
        return _classic(data["eventNotifications"])
    if isinstance(data, dict) and "specversion" in data:
        notice = _cloud_event(data)
        return [notice] if notice else []
    raise ValueError(
        "QuickBooks webhook body is neither a CloudEvents array nor an eventNotifications object"
    )


def _cloud_event(event: Any) -> ChangeNotice | None:
    if not isinstance(event, dict):
        return None
    realm, entity_id = event.get("intuitaccountid"), event.get("intuitentityid")
    parts = str(event.get("type", "")).split(".")
    if not realm or not entity_id or len(parts) < 3 or parts[0] != "qbo":
        log.info("Skipping a QuickBooks CloudEvent without realm, entity id or qbo type")
        return None
    operation = OPERATIONS.get(parts[2].lower(), parts[2])
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    merged_from = data.get("deletedId") if operation == "Merge" else None
    dedupe = event.get("id") or _digest(realm, parts[1], entity_id, operation, event.get("time"))
    return ChangeNotice(
        tenant_external_id=str(realm),
        entity=ENTITIES.get(parts[1].lower()),
        external_id=str(entity_id),
        operation=operation,
        occurred_at=parse_instant(event.get("time")),
        dedupe_key=str(dedupe),
        merged_from=str(merged_from) if merged_from else None,
    )


def _classic(notifications: Any) -> list[ChangeNotice]:
    notices = []
    for notification in notifications if isinstance(notifications, list) else []:
        if not isinstance(notification, dict) or not notification.get("realmId"):
            continue
        change = notification.get("dataChangeEvent")
        entities = change.get("entities") if isinstance(change, dict) else None
        for item in entities if isinstance(entities, list) else []:
            notice = _classic_entity(str(notification["realmId"]), item)
            if notice is not None:
                notices.append(notice)
    return notices


def _classic_entity(realm: str, item: Any) -> ChangeNotice | None:
    if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
        return None
    name, raw_operation = str(item["name"]), str(item.get("operation", ""))
    operation = OPERATIONS.get(raw_operation.lower(), raw_operation)
    merged_from = item.get("deletedId") if operation == "Merge" else None
    return ChangeNotice(
        tenant_external_id=realm,
        entity=ENTITIES.get(name.lower()),
        external_id=str(item["id"]),
        operation=operation,
        occurred_at=parse_instant(item.get("lastUpdated")),
        dedupe_key=_digest(realm, name, item["id"], raw_operation, item.get("lastUpdated")),
        merged_from=str(merged_from) if merged_from else None,
    )


def _digest(*parts: Any) -> str:
    text = "|".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()
