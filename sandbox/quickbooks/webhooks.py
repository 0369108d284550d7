"""Intuit webhook bodies: the CloudEvents array or the classic eventNotifications object.

Both are signed the same way: header `intuit-signature` = base64(HMAC-SHA256(verifier token,
raw body)). One delivery may carry events of several realms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable

from sandbox.quickbooks.store import Event
from sandbox.quickbooks.wire import utc_millis

CLOUD_OPS = {
    "Create": "created",
    "Update": "updated",
    "Delete": "deleted",
    "Void": "voided",
    "Merge": "merged",
    "Emailed": "emailed",
}
# An opaque, stable source as Intuit sends (the value itself means nothing).
SOURCE = "intuit.c2FuZGJveC1kdW53ZWxsLXFiby13ZWJob29rcw=="

Encoder = Callable[[list[Event]], tuple[bytes, dict[str, str]]]


def sign(verifier: str, body: bytes) -> str:
    digest = hmac.new(verifier.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def cloudevents_body(events: list[Event]) -> bytes:
    items = []
    for event in events:
        item = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": SOURCE,
            "type": f"qbo.{event.name.lower()}.{CLOUD_OPS[event.operation]}.v1",
            "datacontenttype": "application/json",
            "time": event.when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
            "intuitentityid": event.entity_id,
            "intuitaccountid": event.realm_id,
            "data": {"deletedId": event.deleted_id} if event.deleted_id else {},
        }
        items.append(item)
    return json.dumps(items, separators=(",", ":")).encode()


def classic_body(events: list[Event]) -> bytes:
    realms: dict[str, list[dict[str, str]]] = {}
    for event in events:
        entity = {
            "name": event.name,
            "id": event.entity_id,
            "operation": event.operation,
            "lastUpdated": utc_millis(event.when),
        }
        if event.deleted_id:
            entity["deletedId"] = event.deleted_id
        realms.setdefault(event.realm_id, []).append(entity)
    notifications = [
        {"realmId": realm, "dataChangeEvent": {"entities": entities}}
        for realm, entities in realms.items()
    ]
    return json.dumps({"eventNotifications": notifications}, separators=(",", ":")).encode()


def make_encoder(verifier: str, cloudevents: bool) -> Encoder:
    content_type = "application/cloudevents+json" if cloudevents else "application/json"
    build = cloudevents_body if cloudevents else classic_body

    def encode(events: list[Event]) -> tuple[bytes, dict[str, str]]:
        body = build(events)
        headers = {
            "Content-Type": content_type,
            "intuit-signature": sign(verifier, body),
            "intuit-t-id": str(uuid.uuid4()),
        }
        return body, headers

    return encode
