"""Delivery with real processes: the sandbox (QuickBooks stand-in and its mail server), the web
app under gunicorn receiving its webhooks, and RQ workers, over real HTTP, SMTP and Redis.

From a change in the sandbox to the reminder in the mailbox and its note in the ledger; a
webhook delivered eleven times; a payment between the decision and the send; a stale
SyncToken, a refusal and a rate limit; workers SIGKILLed mid-write. After each test the outbox
must agree with the sandbox: every `sent` reminder is in the mailbox once, every other `sent`
action in the sandbox's write log once, and nothing else is there.

tests/outbox/ covers the same outcomes a function call at a time; these are the real-process
versions. Long trial counts are in bench/writeback_kills.py.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from redis import Redis
from sqlalchemy import select

from core import queues
from core.db import session_scope
from core.db import utcnow
from core.models import Invoice
from outbox.jobs import request_delivery
from outbox.models import ActionStatus as S
from tests.conftest import REDIS_SERVER
from tests.conftest import empty_postgres_url
from tests.delivery import DeliveryStack
from tests.delivery import World
from tests.delivery import actions
from tests.delivery import arm
from tests.delivery import assert_outbox_matches_sandbox
from tests.delivery import disarm
from tests.delivery import emails_to
from tests.delivery import finished
from tests.delivery import history
from tests.delivery import idle_customers
from tests.delivery import kill_trial
from tests.delivery import mailbox
from tests.delivery import note
from tests.delivery import notes_naming
from tests.delivery import open_world
from tests.delivery import overdue_invoice
from tests.delivery import owed_lines
from tests.delivery import planned
from tests.delivery import reminder_payload
from tests.delivery import sandbox_post
from tests.delivery import settle
from tests.delivery import sweep_at
from tests.delivery import wait_until
from tests.delivery import write_log
from tests.servers import free_port

pytestmark = pytest.mark.e2e

_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = f"{REDIS_SERVER}/{11 - _INDEX}"


def _database_url(tmp_path) -> str:
    """PostgreSQL (what production runs, row locks and all) when reachable, else SQLite."""
    return empty_postgres_url("delivery") or f"sqlite:///{tmp_path / 'delivery.sqlite3'}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeliveryStack]:
    tmp = tmp_path_factory.mktemp("delivery")
    Redis.from_url(REDIS_URL).flushdb()
    running = DeliveryStack(
        web_port=free_port(),
        sandbox_port=free_port(),
        database_url=_database_url(tmp),
        redis_url=REDIS_URL,
        workdir=tmp / "stack",
        sandbox_size="small",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture(scope="module")
def world(stack: DeliveryStack) -> Iterator[World]:
    """The stack's company, its rules evaluated by the stack's worker and everything they
    decided delivered."""
    found = open_world(stack)
    queues.queue(found.rt.redis, queues.RULES).enqueue(
        "rules.jobs.evaluate_organization", found.org_id, result_ttl=0
    )
    settle(found, timeout=60)
    yield found
    found.close()


def test_an_overdue_invoice_in_the_sandbox_becomes_an_email_and_a_note_in_the_ledger(world):
    """The sandbox's webhook reaches the web app; the worker syncs, evaluates and delivers."""
    customer = idle_customers(world)[0]
    started = time.monotonic()
    invoice = overdue_invoice(world, customer)
    number = invoice["DocNumber"]
    [email] = wait_until(lambda: emails_to(world, number), 30, world.stack, "the reminder")
    [note] = wait_until(lambda: notes_naming(world, number), 30, world.stack, "the note")
    assert time.monotonic() - started < 30
    settle(world)
    [reminder] = [
        a for a in actions(world) if a.kind == "reminder" and a.customer_external_id == customer
    ]
    assert reminder.status == S.SENT and email["message_id"].startswith(f"<{reminder.key}@")
    assert reminder.provider_reference.endswith(email["queue_id"])
    [record] = [a for a in actions(world) if a.payload.get("record_of") == reminder.id]
    assert record.status == S.SENT and note["idempotency_key"] == record.key
    assert note["path"].endswith("/customer") and email["to"] == [reminder.command["to"]]
    assert_outbox_matches_sandbox(world)


def test_a_webhook_delivered_eleven_times_makes_one_email_and_one_note(world):
    customer = idle_customers(world)[1]
    before = len(requests.get(f"{world.sandbox}/_sandbox/webhooks", timeout=10).json())
    invoice = overdue_invoice(world, customer, "45.67")
    number = invoice["DocNumber"]

    def first_delivery() -> int | None:
        log = requests.get(f"{world.sandbox}/_sandbox/webhooks", timeout=10).json()
        fresh = [
            i for i, d in enumerate(log[before:], before) if number in d["body"] or d["events"]
        ]
        return fresh[0] + 1 if fresh else None  # +1: a delivery index may be 0

    delivery = wait_until(first_delivery, 10, world.stack, "the webhook") - 1
    url = f"{world.sandbox}/_sandbox/webhooks/{delivery}/redeliver?times=10"
    again = requests.post(url, timeout=60).json()
    assert [d["status"] for d in again] == [200] * 10
    wait_until(lambda: emails_to(world, number), 30, world.stack, "the reminder")
    settle(world)
    assert len(emails_to(world, number)) == 1
    assert len(notes_naming(world, number)) == 1
    assert_outbox_matches_sandbox(world)


def test_a_payment_between_the_decision_and_the_send_cancels_the_reminder(world):
    customer, line = owed_lines(world)[-1]
    soon = utcnow() + timedelta(seconds=3)
    action_id = planned(
        world, "reminder", customer, reminder_payload(line), rule="std", scheduled_for=soon
    )
    sandbox_post(world, "payments", {"invoice_id": line["external_id"]})

    def paid_in_mirror() -> bool:
        with session_scope(world.rt.sessions) as db:
            status = db.scalar(
                select(Invoice.status).where(
                    Invoice.organization_id == world.org_id,
                    Invoice.external_id == line["external_id"],
                )
            )
        return status == "paid"

    wait_until(paid_in_mirror, 20, world.stack, "the payment's webhook to reach the mirror")
    sweep_at(world, soon)
    [action] = finished(world, [action_id])
    assert action.status == S.CANCELLED
    assert action.reason == f"invoice {line['number']} was paid, voided or deleted meanwhile"
    assert [m for m in mailbox(world) if action.key in m["message_id"]] == []
    assert_outbox_matches_sandbox(world)


def test_a_stale_sync_token_is_read_again_and_written_once(world):
    customer = idle_customers(world)[2]
    action_id = planned(world, "note", customer, note("Called about the statement"))
    arm(world, kind="stale", count=1, paths=["/customer"])
    request_delivery(world.rt, world.org_id)
    [action] = finished(world, [action_id])
    assert action.status == S.SENT
    tries = [w for w in write_log(world) if (w["idempotency_key"] or "").startswith(action.key)]
    assert [(w["status"], bool(w["applied"])) for w in tries] == [(400, False), (200, True)]
    assert "Stale Object Error" in tries[0]["answer"]
    assert_outbox_matches_sandbox(world)


def test_a_refused_write_fails_with_the_providers_message(world):
    customer = idle_customers(world)[3]
    action_id = planned(world, "credit_hold", customer, {"on_hold": True, "reason": "60 days"})
    arm(world, kind="reject", count=5, message="Customer record is locked for audit")
    request_delivery(world.rt, world.org_id)
    [action] = finished(world, [action_id])
    disarm(world)
    assert action.status == S.FAILED and action.attempts == 1
    assert "Customer record is locked for audit" in action.reason
    assert history(world, action_id)[-1][:2] == (S.PENDING, S.FAILED)
    assert_outbox_matches_sandbox(world)


def test_a_rate_limited_write_waits_for_retry_after_and_succeeds(world):
    customer = idle_customers(world)[4]
    action_id = planned(world, "note", customer, note("Promised to pay Friday"))
    arm(world, kind="rate_limit", count=1, retry_after=3, paths=["/customer"], methods=["POST"])
    started = utcnow()
    request_delivery(world.rt, world.org_id)
    [action] = finished(world, [action_id], timeout=30)
    assert action.status == S.SENT
    moves = history(world, action_id)
    assert [m[:2] for m in moves] == [
        (S.PLANNED, S.PENDING),
        (S.PENDING, S.PENDING),
        (S.PENDING, S.PENDING),
        (S.PENDING, S.SENT),
    ]
    assert moves[1][2].startswith("rate limited")
    assert action.finished_at - started >= timedelta(seconds=3)
    tries = [w for w in write_log(world) if w["idempotency_key"] == action.key]
    assert [w["status"] for w in tries] == [429, 200]
    assert_outbox_matches_sandbox(world)


def test_workers_killed_mid_write_lose_nothing_and_duplicate_nothing(world):
    rng = random.Random(int(os.environ.get("DUNWELL_KILL_SEED", "7")))
    # The last trial is left to RQ alone: it finds the killed job abandoned once its
    # heartbeat lapses (core.worker: 20 s) and runs it again (core.queues.rerun_if_abandoned).
    trials = [kill_trial(world, trial, rng, sweep=trial < 2) for trial in range(3)]
    assert sum(t["lost"] for t in trials) == 0, trials
    assert sum(t["duplicated"] for t in trials) == 0, trials
    assert sum(t["withheld"] for t in trials) == 0, trials  # these customers owe, reachable
    logs = (world.stack.workdir / "worker.log").read_text()
    assert "due to AbandonedJobError" in logs
    # Jobs scheduled for later wait for RQ's scheduler lock, which a killed worker held.
    settle(world, timeout=30, scheduled=False)
    assert_outbox_matches_sandbox(world)
    # The organization's delivery can be queued under its usual id again.
    assert queues.enqueue_once(
        world.rt.redis,
        queues.ACTIONS,
        "outbox.jobs.deliver_due_for_organization",
        world.org_id,
        job_id=f"actions-{world.org_id}",
    ) in ("enqueued", "coalesced")
