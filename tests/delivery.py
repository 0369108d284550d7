"""A running Dunwell for delivery tests and benchmarks (tests/e2e/test_delivery.py,
bench/writeback.py, bench/writeback_kills.py): the demo stack less its cron, one connected
QuickBooks company, and what the sandbox's mailbox and write log say was delivered."""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

import requests
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from core import queues
from core.context import JobContext
from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.db import utcnow
from core.models import Customer
from core.models import Invoice
from core.models import Organization
from core.settings import Settings
from demo.stack import Stack
from demo.stack import worker_command
from outbox.jobs import request_delivery
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from sync.jobs import run_sync
from tests.connect import connect_org
from tests.rules.factories import activate
from tests.rules.factories import simple_rules

LEASE_SECONDS = 3
FINISHED = (S.SENT, S.FAILED, S.DEAD, S.CANCELLED, S.SKIPPED, S.NEEDS_RECONNECT)


class DeliveryStack(Stack):
    """The demo stack less its cron (each test sweeps when the cron would), with a short lease
    (a worker killed mid-write leaves its action to be resumed 3 s later, not 2 minutes) and
    quick retries."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env["DELIVERY_LEASE_SECONDS"] = str(LEASE_SECONDS)
        env["DELIVERY_RETRY_SECONDS"] = "1,1,2"
        return env

    def commands(self) -> dict[str, list[str]]:
        commands = super().commands()
        del commands["cron"]
        return commands


@dataclass
class World:
    """The test's view of the running stack: its database and Redis, and one organization."""

    stack: DeliveryStack
    rt: JobContext
    org_id: int
    realm: str

    @property
    def sandbox(self) -> str:
        return self.stack.sandbox_url

    def close(self) -> None:
        """Close this process's database connections and Redis client (a connection left to
        the garbage collector warns, in whichever later test that happens)."""
        bind = self.rt.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()
        if self.rt.redis is not None:
            self.rt.redis.close()


def rules() -> dict[str, Any]:
    """The tests' rule set, with a template of its own for the reminders the tests plan (their
    ledger notes then differ from those of the rules' own reminders: QuickBooks' writer adds
    no note that is already the customer's last)."""
    doc = simple_rules()
    subject = "Statement of account"
    doc["templates"]["planned"] = {"subject": subject, "body": doc["templates"]["t"]["body"]}
    return doc


def open_world(
    stack: DeliveryStack, doc: dict[str, Any] | None = None, quiet_start: bool = False
) -> World:
    """A QuickBooks company of the running stack connected, synced and its rules active (their
    first run approved), in this process's view. With `quiet_start` the rules are switched on
    only once the evaluation that follows the first sync is over: nothing is decided until
    something changes."""
    settings = Settings.from_env(stack.env())
    engine = make_engine(settings.database_url)
    rt = JobContext(settings, make_session_factory(engine), Redis.from_url(stack.redis_url))
    org_id = connect_org(settings, rt.sessions, "quickbooks")
    run_sync(rt, org_id)
    with session_scope(rt.sessions) as db:
        realm = db.get_one(Organization, org_id).external_id
    world = World(stack, rt, org_id, realm)
    if quiet_start:
        settle(world, timeout=120)
    with session_scope(rt.sessions) as db:
        activate(db, db.get_one(Organization, org_id), doc or rules())
    return world


# ---------------------------------------------------------------- looking at the stack


def wait_until(probe: Callable[[], Any], timeout: float, stack: Stack, what: str) -> Any:
    try:
        return stack.wait_until(probe, timeout, what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def busy(world: World, scheduled: bool = True) -> dict[str, Any]:
    """What is still waiting, running or (with `scheduled`) scheduled, and the actions due
    soon."""
    found: dict[str, Any] = {}
    for name in queues.QUEUE_NAMES:
        queue = Queue(name, connection=world.rt.redis)
        for what, ids in (
            ("queued", queue.get_job_ids()),
            ("started", StartedJobRegistry(queue=queue).get_job_ids()),
            ("scheduled", ScheduledJobRegistry(queue=queue).get_job_ids() if scheduled else []),
        ):
            if ids:
                found[f"{name} {what}"] = ids
    with session_scope(world.rt.sessions) as db:
        due = db.scalars(
            select(Action.id).where(
                Action.organization_id == world.org_id,
                Action.status.in_((S.PLANNED, S.PENDING)),
                Action.scheduled_for <= utcnow() + timedelta(seconds=30),
            )
        ).all()
    if due:
        found["actions due"] = due
    return found


def settle(world: World, timeout: float = 30, scheduled: bool = True) -> None:
    """Wait until the stack has nothing left to do (twice in a row, a moment apart); without
    `scheduled`, jobs scheduled for later do not count."""

    def quiet() -> bool:
        if busy(world, scheduled):
            return False
        time.sleep(0.5)
        return not busy(world, scheduled)

    try:
        wait_until(quiet, timeout, world.stack, "the workers to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still busy: {busy(world, scheduled)}") from None


def mailbox(world: World) -> list[dict[str, Any]]:
    return requests.get(f"{world.sandbox}/_sandbox/mail", timeout=10).json()["messages"]


def write_log(world: World) -> list[dict[str, Any]]:
    url = f"{world.sandbox}/_sandbox/writes?provider=quickbooks&tenant={world.realm}"
    return requests.get(url, timeout=10).json()["writes"]


def actions(world: World, *ids: int) -> list[Action]:
    with session_scope(world.rt.sessions) as db:
        query = select(Action).where(Action.organization_id == world.org_id)
        if ids:
            query = query.where(Action.id.in_(ids))
        found = list(db.scalars(query.order_by(Action.id)))
        db.expunge_all()
        return found


def history(world: World, action_id: int) -> list[tuple[str, str, str]]:
    with session_scope(world.rt.sessions) as db:
        rows = db.scalars(
            select(ActionEvent).where(ActionEvent.action_id == action_id).order_by(ActionEvent.id)
        )
        return [(e.from_status, e.to_status, e.reason) for e in rows]


def delivered(world: World) -> tuple[Counter[str], Counter[str]]:
    """How many times each action key reached the mailbox, and the ledger (writes applied,
    not replays; a conflict's second try carries the key with "-r")."""
    emails = Counter(m["message_id"].strip("<>").split("@")[0] for m in mailbox(world))
    writes = Counter(
        w["idempotency_key"].removesuffix("-r")
        for w in write_log(world)
        if w["idempotency_key"] and w["applied"] and not w["replay"] and w["status"] < 400
    )
    return emails, writes


def assert_outbox_matches_sandbox(world: World) -> dict[str, int]:
    """Every reminder the outbox calls `sent` is in the mailbox once, every other sent action in
    the ledger once; the mailbox and the ledger hold nothing the outbox did not send."""
    emails, writes = delivered(world)
    sent = [a for a in actions(world) if a.status == S.SENT]
    reminders = {a.key for a in sent if a.kind == "reminder"}
    others = {a.key for a in sent if a.kind != "reminder"}
    assert set(emails) == reminders
    unwritten = [
        (
            a.kind,
            a.payload,
            a.reason,
            [w for w in write_log(world) if w["idempotency_key"] == a.key],
        )
        for a in sent
        if a.key in others - set(writes)
    ]
    assert set(writes) == others, unwritten
    assert [k for k, n in (emails + writes).items() if n > 1] == []
    return {"emails": len(reminders), "ledger": len(others)}


# ---------------------------------------------------------------- making changes


def sandbox_post(world: World, path: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{world.sandbox}/_sandbox/quickbooks/{world.realm}/{path}"
    response = requests.post(url, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def arm(world: World, **fault: Any) -> None:
    fault = {"provider": "quickbooks", "tenant": world.realm, **fault}
    requests.post(f"{world.sandbox}/_sandbox/faults", json=fault, timeout=10).raise_for_status()


def disarm(world: World) -> None:
    requests.delete(f"{world.sandbox}/_sandbox/faults", timeout=10).raise_for_status()


def idle_customers(world: World) -> list[str]:
    """Customers with an email address and nothing open, who no rule is chasing."""
    with session_scope(world.rt.sessions) as db:
        owing = select(Invoice.customer_external_id).where(
            Invoice.organization_id == world.org_id, Invoice.status == "open"
        )
        return list(
            db.scalars(
                select(Customer.external_id)
                .where(
                    Customer.organization_id == world.org_id,
                    Customer.deleted.is_(False),
                    Customer.active.is_(True),
                    Customer.email.is_not(None),
                    Customer.email != "",
                    Customer.external_id.not_in(owing),
                )
                .order_by(Customer.id)
            )
        )


def overdue_invoice(world: World, customer: str, amount: str = "321.09") -> dict[str, Any]:
    """A new invoice in the sandbox, 10 days overdue: QuickBooks fires its webhook."""
    issued = (utcnow() - timedelta(days=40)).date().isoformat()
    body = {"customer_id": customer, "amount": amount, "txn_date": issued, "due_in_days": 30}
    return sandbox_post(world, "invoices", body)["Invoice"]


def emails_to(world: World, number: str) -> list[dict[str, Any]]:
    return [m for m in mailbox(world) if f"{number} " in m["text"] or m["text"].endswith(number)]


def notes_naming(world: World, number: str) -> list[dict[str, Any]]:
    return [
        w
        for w in write_log(world)
        if w["applied"] and not w["replay"] and f"invoices {number})" in str(w["body"])
    ]


def planned(world: World, kind: str, customer: str, payload: dict[str, Any], **row: Any) -> int:
    """An action as the rules or a person leave it: planned, due now (or at `scheduled_for`)."""
    now = utcnow()
    with session_scope(world.rt.sessions) as db:
        action = Action(
            organization_id=world.org_id,
            rule=row.pop("rule", "manual"),
            step=f"{kind}-{uuid.uuid4().hex[:10]}",
            target=f"customer:{customer}",
            period=now.date().isoformat(),
            kind=kind,
            customer_external_id=customer,
            status=S.PLANNED,
            decided_on=now.date(),
            scheduled_for=row.pop("scheduled_for", now - timedelta(seconds=1)),
            payload=payload,
            explanation={},
            **row,
        )
        db.add(action)
        db.flush()
        return action.id


def owed_lines(world: World) -> list[tuple[str, dict[str, Any]]]:
    """Each customer with an email address and an open invoice, with that invoice as a
    reminder line."""
    with session_scope(world.rt.sessions) as db:
        rows = db.scalars(
            select(Invoice)
            .join(
                Customer,
                sa.and_(
                    Customer.organization_id == Invoice.organization_id,
                    Customer.external_id == Invoice.customer_external_id,
                ),
            )
            .where(
                Invoice.organization_id == world.org_id,
                Invoice.status == "open",
                Customer.email.is_not(None),
                Customer.email != "",
                Customer.deleted.is_(False),
            )
            .order_by(Invoice.id)
        ).all()
        lines: dict[str, dict[str, Any]] = {}
        for inv in rows:
            lines.setdefault(
                inv.customer_external_id,
                {
                    "external_id": inv.external_id,
                    "number": inv.number or inv.external_id,
                    "balance": str(inv.balance),
                    "currency": inv.currency,
                    "due_date": inv.due_date.isoformat() if inv.due_date else None,
                    "days_overdue": 10,
                },
            )
        return list(lines.items())


def reminder_payload(line: dict[str, Any]) -> dict[str, Any]:
    return {"template": "planned", "invoices": [line], "offers": [], "instalments": []}


def finished(world: World, ids: list[int], timeout: float = 30) -> list[Action]:
    def done() -> list[Action] | None:
        found = actions(world, *ids)
        return found if all(a.status in FINISHED for a in found) else None

    return wait_until(done, timeout, world.stack, f"actions {ids} to finish")


def sweep_at(world: World, when: datetime) -> None:
    """What the every-minute cron does (it enqueues directly: a scheduled job would wait for
    RQ's scheduler lock, which a killed worker holds for a minute)."""
    time.sleep(max((when - utcnow()).total_seconds(), 0))
    queues.queue(world.rt.queue_redis(), queues.ACTIONS).enqueue(
        "outbox.jobs.deliver_due_actions", result_ttl=0
    )


def note(text: str) -> dict[str, Any]:
    return {"on": "customer", "text": f"{text} ({uuid.uuid4().hex[:8]})"}


def kill_trial(world: World, trial: int, rng: random.Random, sweep: bool) -> dict[str, Any]:
    """Plan three reminders and three notes, let the worker start writing them (each provider
    write slowed to 0.3 s), SIGKILL the worker and its work-horse at a random instant of the
    run, start a new one, and count what reached the mailbox and the ledger. With `sweep`,
    recovery is started as the every-minute sweep would once the lease ran out; without, it
    is left to RQ's abandoned-job handling (core.queues, core.worker)."""
    ids = []
    for customer in idle_customers(world)[5:8]:
        ids.append(planned(world, "note", customer, note("Statement sent")))
    owing = owed_lines(world)
    for customer, line in [owing[(3 * trial + k) % len(owing)] for k in range(3)]:
        # a customer and invoice of their own: the ledger note recording it is new text
        ids.append(planned(world, "reminder", customer, reminder_payload(line), rule="std"))
    arm(world, kind="slow", seconds=0.3, count=50, paths=["/customer"], methods=["POST"])
    request_delivery(world.rt, world.org_id)

    def writing() -> bool:
        return any(a.status != S.PLANNED for a in actions(world, *ids))

    wait_until(writing, 20, world.stack, "the worker to start writing")
    time.sleep(rng.uniform(0, 0.6))  # the writes take 2 s or so: somewhere in the middle
    world.stack.kill("worker")
    disarm(world)
    world.stack.launch("worker", worker_command(world.stack.redis_url))
    if sweep:
        sweep_at(world, utcnow() + timedelta(seconds=LEASE_SECONDS + 0.5))
    done = finished(world, ids, timeout=60)
    reminders = {a.id for a in done if a.kind == "reminder" and a.status == S.SENT}
    records = [a.id for a in actions(world) if a.payload.get("record_of") in reminders]
    assert len(records) == len(reminders), "a reminder sent without its ledger record"
    done += finished(world, records, timeout=60) if records else []
    emails, writes = delivered(world)
    reached = [emails[a.key] + writes[a.key] for a in done]
    withheld = [a for a in done if a.status in (S.CANCELLED, S.SKIPPED)]
    return {
        # sent but not there, or ended anything but sent or withheld by the re-check
        "lost": sum(
            1
            for a, n in zip(done, reached, strict=True)
            if (a.status == S.SENT and n == 0) or (a.status != S.SENT and a not in withheld)
        ),
        "duplicated": sum(1 for n in reached if n > 1),
        "withheld": len(withheld),
        "withheld_because": sorted({a.reason for a in withheld}),
    }
