"""POST /webhooks/<provider>: signatures, the inbox, deduplication and the coalesced sync.

`post` runs the inbox drain in-process after the request, as the worker would; the drain's own
tests are in tests/webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from rq import Queue
from sqlalchemy import func
from sqlalchemy import select

from core.context import JobContext
from core.db import session_scope
from core.models import WebhookEvent
from tests.connector.conftest import make_org
from webhooks.drain import Drained
from webhooks.drain import drain
from webhooks.jobs import DRAIN_JOB_ID

QBO_KEY = "test-intuit-verifier"
XERO_KEY = "test-xero-webhook-key"


def sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def classic(realm: str, *entities: tuple[str, str, str]) -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": realm,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": n,
                                "id": i,
                                "operation": op,
                                "lastUpdated": "2026-11-20T17:00:00.000Z",
                            }
                            for n, i, op in entities
                        ]
                    },
                }
            ]
        }
    ).encode()


def cloud_event(
    realm: str, entity_id: str, event_id: str, kind: str = "qbo.invoice.updated.v1"
) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
        "type": kind,
        "datacontenttype": "application/json",
        "time": "2026-11-20T17:00:01.123Z",
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
    }


def stored(session_factory) -> list[tuple]:
    with session_scope(session_factory) as session:
        return session.execute(
            select(
                WebhookEvent.organization_id,
                WebhookEvent.entity,
                WebhookEvent.external_id,
                WebhookEvent.operation,
            ).order_by(WebhookEvent.id)
        ).all()


def queued_job_ids(redis) -> list[str]:
    """The syncs waiting; not the inbox drain, which `post` runs in-process."""
    return [j for j in Queue("sync", connection=redis).job_ids if not j.startswith(DRAIN_JOB_ID)]


def drain_inbox(app) -> Drained:
    """What the worker's drain job does, run here."""
    ext = app.extensions["dunwell"]
    return drain(JobContext(settings=ext["settings"], sessions=ext["sessions"], redis=ext["redis"]))


def post(
    client,
    provider: str,
    body: bytes,
    signature: str | None,
    content_type="application/json",
    then_drain: bool = True,
):
    """POST a delivery, then (unless `then_drain` is False) drain the inbox."""
    header = "intuit-signature" if provider == "quickbooks" else "x-xero-signature"
    headers = {header: signature} if signature is not None else {}
    response = client.post(
        f"/webhooks/{provider}", data=body, headers=headers, content_type=content_type
    )
    if then_drain:
        drain_inbox(client.application)
    return response


def test_classic_quickbooks_webhook_is_stored_and_enqueues_one_sync(client, session_factory, redis):
    org = make_org(session_factory, "quickbooks", "9130")
    body = classic("9130", ("Invoice", "130", "Update"), ("Payment", "77", "Create"))
    response = post(client, "quickbooks", body, sign(QBO_KEY, body))
    assert response.status_code == 200
    assert response.data == b""
    assert "Set-Cookie" not in response.headers
    assert stored(session_factory) == [
        (org, "invoice", "130", "update"),
        (org, "payment", "77", "create"),
    ]
    assert queued_job_ids(redis) == [f"sync-{org}"]


def test_cloudevents_across_realms_with_their_own_content_type(client, session_factory, redis):
    first = make_org(session_factory, "quickbooks", "111")
    second = make_org(session_factory, "quickbooks", "222")
    body = json.dumps(
        [
            cloud_event("111", "5", "e-1"),
            cloud_event("222", "6", "e-2"),
            cloud_event("999", "7", "e-3"),
        ]
    ).encode()
    response = post(client, "quickbooks", body, sign(QBO_KEY, body), "application/cloudevents+json")
    assert response.status_code == 200
    assert [row[:3] for row in stored(session_factory)] == [
        (first, "invoice", "5"),
        (second, "invoice", "6"),
    ]
    assert sorted(queued_job_ids(redis)) == sorted([f"sync-{first}", f"sync-{second}"])


def test_a_redelivered_batch_is_not_stored_twice_and_coalesces(client, session_factory, redis):
    org = make_org(session_factory, "quickbooks", "111")
    body = json.dumps([cloud_event("111", "5", "same-id")]).encode()
    for _ in range(3):
        assert post(client, "quickbooks", body, sign(QBO_KEY, body)).status_code == 200
    assert len(stored(session_factory)) == 1
    assert queued_job_ids(redis) == [f"sync-{org}"]


def test_bad_or_missing_quickbooks_signature_is_refused_and_nothing_stored(
    client, session_factory, redis
):
    make_org(session_factory, "quickbooks", "9130")
    body = classic("9130", ("Invoice", "130", "Update"))
    tampered = body.replace(b"130", b"131")
    assert post(client, "quickbooks", tampered, sign(QBO_KEY, body)).status_code == 403
    assert post(client, "quickbooks", body, None).status_code == 403
    assert post(client, "quickbooks", body, "not base64 at all").status_code == 403
    assert stored(session_factory) == []
    assert queued_job_ids(redis) == []


def test_xero_intent_to_receive(client, session_factory):
    body = json.dumps(
        {"events": [], "firstEventSequence": 0, "lastEventSequence": 0, "entropy": "S0m3r4Nd0mt3xt"}
    ).encode()
    good = post(client, "xero", body, sign(XERO_KEY, body))
    assert (good.status_code, good.data) == (200, b"")
    assert "Set-Cookie" not in good.headers
    bad = post(client, "xero", body, sign("wrong-key", body))
    assert (bad.status_code, bad.data) == (401, b"")
    assert "Set-Cookie" not in bad.headers


def test_xero_invoice_event_is_recorded(client, session_factory, redis):
    tenant = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
    org = make_org(session_factory, "xero", tenant)
    body = json.dumps(
        {
            "events": [
                {
                    "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/d1a3b2c4",
                    "resourceId": "d1a3b2c4",
                    "eventDateUtc": "2026-11-20T17:00:00.123",
                    "eventType": "UPDATE",
                    "eventCategory": "INVOICE",
                    "tenantId": tenant,
                    "tenantType": "ORGANISATION",
                }
            ],
            "firstEventSequence": 1,
            "lastEventSequence": 1,
            "entropy": "XYZ",
        }
    ).encode()
    assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    assert stored(session_factory) == [(org, "invoice", "d1a3b2c4", "update")]
    assert queued_job_ids(redis) == [f"sync-{org}"]


def test_events_of_a_disconnected_organization_are_ignored(client, session_factory, redis):
    make_org(session_factory, "quickbooks", "9130", status="disconnected")
    body = classic("9130", ("Invoice", "130", "Update"))
    assert post(client, "quickbooks", body, sign(QBO_KEY, body)).status_code == 200
    assert stored(session_factory) == []


def test_oversized_body_is_refused(client, app, session_factory):
    body = b"[" + b" " * (app.config["MAX_CONTENT_LENGTH"] + 10) + b"]"
    response = post(client, "quickbooks", body, sign(QBO_KEY, body))
    assert response.status_code == 413
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_unknown_provider_is_a_clear_404(client):
    response = client.post("/webhooks/sage", data=b"{}")
    assert response.status_code == 404
    assert "Unknown accounting system" in response.get_json()["error"]
