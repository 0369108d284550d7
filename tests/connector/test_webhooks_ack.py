"""The acknowledgement: a verified body goes to Redis and nothing to the database; a bad
signature stores nothing anywhere; with Redis away, the request records the events itself."""

from __future__ import annotations

import json
import socket
import time

from sqlalchemy import func
from sqlalchemy import select
from werkzeug.test import Client

from connector import create_app
from connector.webhooks import REDIS_TIMEOUT_SECONDS
from connector.webhooks import create_receiver
from core.db import session_scope
from core.models import WebhookEvent
from tests.connector.conftest import make_org
from tests.connector.test_webhooks import QBO_KEY
from tests.connector.test_webhooks import cloud_event
from tests.connector.test_webhooks import post
from tests.connector.test_webhooks import queued_job_ids
from tests.connector.test_webhooks import sign
from tests.connector.test_webhooks import stored
from webhooks import stream
from webhooks.jobs import DRAIN_JOB_ID


def inbox_rows(session_factory) -> int:
    with session_scope(session_factory) as session:
        return session.scalar(select(func.count()).select_from(WebhookEvent)) or 0


def test_a_verified_body_goes_to_redis_and_nothing_to_the_database(client, session_factory, redis):
    make_org(session_factory, "quickbooks", "111")
    body = json.dumps([cloud_event("111", "5", "e-1")]).encode()

    response = post(client, "quickbooks", body, sign(QBO_KEY, body), then_drain=False)

    assert (response.status_code, response.data) == (200, b"")
    entries = redis.xrange(stream.STREAM)
    assert [(fields[b"provider"], fields[b"body"]) for _, fields in entries] == [
        (b"quickbooks", body)
    ]
    assert b"at" in entries[0][1]
    assert inbox_rows(session_factory) == 0
    assert queued_job_ids(redis) == []  # no sync yet: the drain asks for it
    assert DRAIN_JOB_ID in redis.lrange("rq:queue:sync", 0, -1)[0].decode()


def test_one_drain_waits_for_many_deliveries(client, session_factory, redis):
    make_org(session_factory, "quickbooks", "111")
    for n in range(5):
        body = json.dumps([cloud_event("111", str(n), f"e-{n}")]).encode()
        assert post(client, "quickbooks", body, sign(QBO_KEY, body), then_drain=False).status_code
    assert redis.xlen(stream.STREAM) == 5
    assert [j.decode() for j in redis.lrange("rq:queue:sync", 0, -1)] == [DRAIN_JOB_ID]


def test_a_bad_signature_is_refused_and_nothing_is_stored_anywhere(client, session_factory, redis):
    make_org(session_factory, "quickbooks", "111")
    body = json.dumps([cloud_event("111", "5", "e-1")]).encode()

    response = post(client, "quickbooks", body, sign("wrong", body), then_drain=False)

    assert response.status_code == 403
    assert redis.exists(stream.STREAM) == 0
    assert redis.llen("rq:queue:sync") == 0
    assert inbox_rows(session_factory) == 0


def test_with_redis_away_the_request_records_the_events_itself(
    settings, database_url, session_factory
):
    org = make_org(session_factory, "quickbooks", "111")
    away = settings.with_changes(database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    app = create_app(away)
    body = json.dumps([cloud_event("111", "5", "e-1")]).encode()
    try:
        response = post(
            app.test_client(), "quickbooks", body, sign(QBO_KEY, body), then_drain=False
        )
    finally:
        app.extensions["dunwell"]["engine"].dispose()

    assert response.status_code == 200
    assert stored(session_factory) == [(org, "invoice", "5", "update")]


def test_the_receiver_runs_alone_and_serves_nothing_else(settings, database_url, redis):
    receiver = create_receiver(settings.with_changes(database_url=database_url))
    client = Client(receiver)
    body = json.dumps([cloud_event("111", "5", "e-1")]).encode()

    signed = client.post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(QBO_KEY, body)}
    )
    forged = client.post("/webhooks/quickbooks", data=body, headers={"intuit-signature": "x"})

    assert (signed.status_code, forged.status_code) == (200, 403)
    assert redis.xlen(stream.STREAM) == 1
    assert client.get("/").status_code == 404
    assert client.get("/webhooks/quickbooks").status_code == 405


def test_a_redis_that_does_not_answer_counts_as_away(settings, database_url, session_factory):
    org = make_org(session_factory, "quickbooks", "111")
    body = json.dumps([cloud_event("111", "5", "e-1")]).encode()
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        hung = settings.with_changes(
            database_url=database_url, redis_url=f"redis://127.0.0.1:{port}/0"
        )
        app = create_app(hung)
        started = time.monotonic()
        try:
            response = post(
                app.test_client(), "quickbooks", body, sign(QBO_KEY, body), then_drain=False
            )
        finally:
            app.extensions["dunwell"]["engine"].dispose()
        waited = time.monotonic() - started

    assert response.status_code == 200
    assert waited < REDIS_TIMEOUT_SECONDS * 3
    assert stored(session_factory) == [(org, "invoice", "5", "update")]
