"""Validly signed deliveries with an event we cannot read: that event is set aside, with the
reason, and the rest of the delivery is stored and synced; the answer is always 200."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import WebhookEvent
from tests.connector.test_webhooks import QBO_KEY
from tests.connector.test_webhooks import XERO_KEY
from tests.connector.test_webhooks import cloud_event
from tests.connector.test_webhooks import make_org
from tests.connector.test_webhooks import post
from tests.connector.test_webhooks import queued_job_ids
from tests.connector.test_webhooks import sign

REALM = "9130"
TENANT = "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f"
DEEP = "[" * 1000 + "]" * 1000


def inbox(session_factory) -> list[tuple]:
    with session_scope(session_factory) as session:
        return session.execute(
            select(
                WebhookEvent.organization_id,
                WebhookEvent.external_id,
                WebhookEvent.rejected_reason,
                WebhookEvent.processed_at.is_not(None),
            ).order_by(WebhookEvent.id)
        ).all()


def xero_event(resource: str, **changes: object) -> dict:
    event = {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{resource}",
        "resourceId": resource,
        "eventDateUtc": "2026-11-20T17:00:00.123",
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": TENANT,
        "tenantType": "ORGANISATION",
    }
    return {**event, **changes}


def xero_body(*events_json: str) -> bytes:
    return ('{"events": [' + ", ".join(events_json) + '], "entropy": "X"}').encode()


def qbo_body(*events_json: str) -> bytes:
    return ("[" + ", ".join(events_json) + "]").encode()


QBO_CASES = {
    "time in year 0 in UTC": (
        json.dumps(
            cloud_event(
                REALM,
                "13",
                "bad",
            )
            | {"time": "0001-01-01T00:00:00+01:00"}
        ),
        r"time '0001-01-01T00:00:00\+01:00' is not a timestamp we can read",
    ),
    "1,000 levels of nesting": (
        json.dumps(cloud_event(REALM, "13", "bad"))[:-1] + ', "extensions": ' + DEEP + "}",
        r"extensions[][0]+\.\.\. is nested more than 32 levels deep",
    ),
    "a lone surrogate in the entity id": (
        json.dumps(cloud_event(REALM, "\ud800", "bad")),
        r"intuitentityid contains an unpaired UTF-16 surrogate \(\\ud800\), which is not text",
    ),
}

XERO_CASES = {
    "a /Date()/ out of range": (
        json.dumps(xero_event("bad", eventDateUtc="/Date(99999999999999999)/")),
        r"eventDateUtc: Xero timestamp out of range: '/Date\(99999999999999999\)/'",
    ),
    "year 9999 with an offset": (
        json.dumps(xero_event("bad", eventDateUtc="9999-12-31T23:59:59-14:00")),
        r"eventDateUtc: Xero timestamp out of range: '9999-12-31T23:59:59-14:00'",
    ),
    "1,000 levels of nesting": (
        json.dumps(xero_event("bad"))[:-1] + ', "data": ' + DEEP + "}",
        r"data[][0]+\.\.\. is nested more than 32 levels deep",
    ),
    "a lone surrogate in the resource id": (
        json.dumps(xero_event("\ud800", resourceUrl="https://api.xero.com/api.xro/2.0/Invoices")),
        r"resourceId contains an unpaired UTF-16 surrogate \(\\ud800\), which is not text",
    ),
}


@pytest.mark.parametrize("case", sorted(QBO_CASES))
def test_quickbooks_bad_event_is_set_aside_and_the_rest_synced(
    case, client, session_factory, redis
):
    org = make_org(session_factory, "quickbooks", REALM)
    bad, reason = QBO_CASES[case]
    body = qbo_body(bad, json.dumps(cloud_event(REALM, "14", "good")))
    response = post(client, "quickbooks", body, sign(QBO_KEY, body))
    assert response.status_code == 200
    kept, set_aside = inbox(session_factory)
    assert kept == (org, "14", None, False)
    assert set_aside[0] == org and set_aside[3] is True
    assert re.fullmatch(reason, set_aside[2]), set_aside[2]
    assert queued_job_ids(redis) == [f"sync-{org}"]


@pytest.mark.parametrize("case", sorted(XERO_CASES))
def test_xero_bad_event_is_set_aside_and_the_rest_synced(case, client, session_factory, redis):
    org = make_org(session_factory, "xero", TENANT)
    bad, reason = XERO_CASES[case]
    body = xero_body(bad, json.dumps(xero_event("good")))
    response = post(client, "xero", body, sign(XERO_KEY, body))
    assert response.status_code == 200
    kept, set_aside = inbox(session_factory)
    assert kept == (org, "good", None, False)
    assert set_aside[0] == org and set_aside[3] is True
    assert re.fullmatch(reason, set_aside[2]), set_aside[2]
    assert queued_job_ids(redis) == [f"sync-{org}"]


def test_a_set_aside_event_is_recorded_once_however_often_it_is_redelivered(
    client, session_factory, redis
):
    make_org(session_factory, "xero", TENANT)
    body = xero_body(XERO_CASES["a /Date()/ out of range"][0])
    for _ in range(3):
        assert post(client, "xero", body, sign(XERO_KEY, body)).status_code == 200
    assert len(inbox(session_factory)) == 1
    assert queued_job_ids(redis) == []


def test_a_signed_body_that_is_not_json_is_set_aside_not_refused(client, session_factory, redis):
    body = b'{"eventNotifications": [' + b"garbage"
    response = post(client, "quickbooks", body, sign(QBO_KEY, body))
    assert response.status_code == 200
    ((org_id, external_id, reason, processed),) = inbox(session_factory)
    assert (org_id, external_id, processed) == (None, "", True)
    assert reason.startswith("unreadable delivery: QuickBooks webhook body is not valid JSON")


def test_a_whole_body_nested_too_deeply_is_set_aside(client, session_factory):
    body = ("[" * 5000 + "]" * 5000).encode()
    assert post(client, "quickbooks", body, sign(QBO_KEY, body)).status_code == 200
    ((_, _, reason, _),) = inbox(session_factory)
    assert reason == "the event is a JSON list, not an object"


def test_an_id_longer_than_the_inbox_column_is_set_aside(client, session_factory, redis):
    org = make_org(session_factory, "quickbooks", REALM)
    body = qbo_body(json.dumps(cloud_event(REALM, "7" * 65, "long")))
    assert post(client, "quickbooks", body, sign(QBO_KEY, body)).status_code == 200
    assert inbox(session_factory) == [
        (org, "7" * 64, "external_id is longer than 64 characters", True)
    ]
    assert queued_job_ids(redis) == []
