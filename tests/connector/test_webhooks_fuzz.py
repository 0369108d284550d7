"""Fuzzing: validly signed deliveries of any shape are answered 200, never 5xx, and a good
event in the same delivery as bad ones is still stored for its sync."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from sqlalchemy import select

from core.db import session_scope
from core.models import WebhookEvent
from tests.connector import webhook_bodies as bodies
from tests.connector.test_webhooks import QBO_KEY
from tests.connector.test_webhooks import XERO_KEY
from tests.connector.test_webhooks import cloud_event
from tests.connector.test_webhooks import make_org
from tests.connector.test_webhooks import post
from tests.connector.test_webhooks import sign
from tests.fuzzing import fuzz_settings
from tests.hostile import dumps

_serial = itertools.count(1)


def with_good_quickbooks_event(body: Any, entity_id: str) -> Any:
    """`body` with one well-formed event for a connected realm added, where it has room."""
    realm = bodies.QBO_REALMS[0]
    if isinstance(body, list):
        return [*body, cloud_event(realm, entity_id, f"good-{entity_id}")]
    if isinstance(body, dict) and isinstance(body.get("eventNotifications"), list):
        entity = {"name": "Invoice", "id": entity_id, "operation": "Update"}
        notification = {"realmId": realm, "dataChangeEvent": {"entities": [entity]}}
        return {**body, "eventNotifications": [*body["eventNotifications"], notification]}
    return None


def with_good_xero_event(body: Any, entity_id: str) -> Any:
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        event = {
            "resourceId": entity_id,
            "eventDateUtc": "2026-11-20T17:00:00.123",
            "eventType": "UPDATE",
            "eventCategory": "INVOICE",
            "tenantId": bodies.XERO_TENANTS[0],
        }
        return {**body, "events": [*body["events"], event]}
    return None


def accepted(session_factory, entity_id: str) -> list[tuple]:
    with session_scope(session_factory) as session:
        return session.execute(
            select(WebhookEvent.organization_id, WebhookEvent.rejected_reason).where(
                WebhookEvent.external_id == entity_id
            )
        ).all()


def deliver(client, session_factory, provider: str, body: Any, add_good, key: str) -> None:
    entity_id = f"fuzz-{next(_serial)}"
    extended = add_good(body, entity_id)
    raw = dumps(extended if extended is not None else body).encode()
    response = post(client, provider, raw, sign(key, raw))
    assert response.status_code == 200, (response.status_code, raw[:500])
    if extended is not None:
        assert [reason for _, reason in accepted(session_factory, entity_id)] == [None]


def test_quickbooks_deliveries_of_any_shape(client, session_factory, redis) -> None:
    for realm in bodies.QBO_REALMS:
        make_org(session_factory, "quickbooks", realm)

    @fuzz_settings(150)
    @given(bodies.qbo_bodies())
    def check(body: Any) -> None:
        deliver(client, session_factory, "quickbooks", body, with_good_quickbooks_event, QBO_KEY)

    check()


def test_xero_deliveries_of_any_shape(client, session_factory, redis) -> None:
    for tenant in bodies.XERO_TENANTS:
        make_org(session_factory, "xero", tenant)

    @fuzz_settings(150)
    @given(bodies.xero_bodies())
    def check(body: Any) -> None:
        deliver(client, session_factory, "xero", body, with_good_xero_event, XERO_KEY)

    check()
