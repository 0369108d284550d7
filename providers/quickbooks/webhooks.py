"""QuickBooks webhooks: the `intuit-signature` check and both payload envelopes.

Intuit signs the raw body: `intuit-signature` = base64(HMAC-SHA256(verifier token, body)). Two
envelopes exist and both are accepted:
- classic: `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated", "deletedId"?}]}}]}`;
- CloudEvents (mandatory from 2026): a JSON array of events with `type` = `qbo.<entity>.<op>.v1`,
  `intuitaccountid` (the realm), `intuitentityid` and a unique `id`.
One delivery may cover several realms. Operations are normalised to the classic verbs (Create,
Update, Delete, Merge, Void, Emailed). Entities Dunwell does not mirror (Account, Vendor, Term,
...) are returned with `entity=None`, so the caller can log them and decide; an event that
cannot be read (no realm or id, a timestamp out of range, ...) comes back rejected, with the
reason, and the rest of the delivery counts. `dedupe_key` is the CloudEvent `id`, or for
classic events a SHA-256 of realm, entity, id, operation and lastUpdated. Payloads carry ids
only: always re-fetch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from providers.base import ChangeNotice
from providers.base import Entity
from providers.jsonbody import decode_untrusted
from providers.quickbooks.mapping import parse_instant
from providers.webhook_events import BadEvent
from providers.webhook_events import identifier
from providers.webhook_events import parse_each
from providers.webhook_events import rejected

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
    """ChangeNotices from either envelope; ValueError for a body that is neither.

    An event that cannot be read is returned as a rejected notice (providers.webhook_events).
    """
    try:
        data = decode_untrusted(body)
    except ValueError as exc:
        raise ValueError(f"QuickBooks webhook body is not valid JSON: {exc}") from exc
    if isinstance(data, list):
        return parse_each(data, _cloud_event, _cloud_ids)
    if isinstance(data, dict) and "eventNotifications" in data:
        return _classic(data["eventNotifications"])
    if isinstance(data, dict) and "specversion" in data:
        return parse_each([data], _cloud_event, _cloud_ids)
    raise ValueError(
        "QuickBooks webhook body is neither a CloudEvents array nor an eventNotifications object"
    )


def _cloud_ids(event: dict[str, Any]) -> tuple[Any, Any]:
    return event.get("intuitaccountid"), event.get("intuitentityid")


def _cloud_event(event: dict[str, Any]) -> ChangeNotice | None:
    realm = identifier(event, "intuitaccountid")
    entity_id = identifier(event, "intuitentityid")
    kind = event.get("type")
    parts = kind.split(".") if isinstance(kind, str) else []
    if len(parts) < 3 or parts[0] != "qbo":
        raise BadEvent(f"type must read qbo.<entity>.<operation>.v1, not {_shown(event)}")
    operation = OPERATIONS.get(parts[2].lower(), parts[2])
    data = event["data"] if isinstance(event.get("data"), dict) else {}
    merged_from = data.get("deletedId") if operation == "Merge" else None
    event_id = identifier(event, "id") if event.get("id") is not None else None
    when = _instant(event, "time")
    return ChangeNotice(
        tenant_external_id=realm,
        entity=ENTITIES.get(parts[1].lower()),
        external_id=entity_id,
        operation=operation,
        occurred_at=when,
        dedupe_key=event_id or _digest(realm, parts[1], entity_id, operation, event.get("time")),
        merged_from=str(merged_from) if merged_from else None,
    )


def _shown(event: dict[str, Any]) -> str:
    return ascii(event.get("type"))[:60]


def _classic(notifications: Any) -> list[ChangeNotice]:
    notices: list[ChangeNotice] = []
    for notification in notifications if isinstance(notifications, list) else []:
        try:
            realm = _realm(notification)
        except BadEvent as exc:
            notices.append(rejected(str(exc), None, None, notification))
            continue
        change = notification.get("dataChangeEvent")
        entities = change.get("entities") if isinstance(change, dict) else None
        notices += parse_each(
            entities if isinstance(entities, list) else [],
            partial(_classic_entity, realm),
            partial(_classic_ids, realm),
        )
    return notices


def _realm(notification: Any) -> str:
    if not isinstance(notification, dict):
        raise BadEvent("a notification in eventNotifications is not an object")
    return identifier(notification, "realmId")


def _classic_entity(realm: str, item: dict[str, Any]) -> ChangeNotice:
    name, external_id = identifier(item, "name"), identifier(item, "id")
    raw_operation = str(item.get("operation", ""))
    operation = OPERATIONS.get(raw_operation.lower(), raw_operation)
    merged_from = item.get("deletedId") if operation == "Merge" else None
    return ChangeNotice(
        tenant_external_id=realm,
        entity=ENTITIES.get(name.lower()),
        external_id=external_id,
        operation=operation,
        occurred_at=_instant(item, "lastUpdated"),
        dedupe_key=_digest(realm, name, external_id, raw_operation, item.get("lastUpdated")),
        merged_from=str(merged_from) if merged_from else None,
    )


def _instant(event: dict[str, Any], name: str) -> datetime | None:
    """The timestamp field `name` as UTC; None when absent, BadEvent when unreadable."""
    value = event.get(name)
    if value is None or value == "":
        return None
    when = parse_instant(value)
    if when is None:
        raise BadEvent(f"{name} {ascii(value)[:60]} is not a timestamp we can read")
    return when


def _digest(*parts: Any) -> str:
    text = "|".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()


def _classic_ids(realm: str | None, item: dict[str, Any]) -> tuple[Any, Any]:
    """What of a classic entity can be shown when it cannot be read."""
    return realm, item.get("id")
