"""Delivering actions to the sandbox over real HTTP: written once, outcomes by the kind of answer,
a crashed write resumed with its idempotency key, the echoed change ignored by the mirror."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy import update

from core.context import JobContext
from core.db import session_scope
from core.db import utcnow
from core.models import Customer
from core.models import Invoice
from core.models import Organization
from core.settings import Settings
from core.settings import SettingsError
from outbox.channels import by_email
from outbox.channels import write
from outbox.commands import SendEmail
from outbox.commands import command_json
from outbox.deliver import deliver
from outbox.deliver import release
from outbox.jobs import deliver_due
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.perform import Taken
from outbox.perform import take
from rules.engine.timing import local_date
from sync.jobs import run_sync
from tests.conftest import dunwell_env
from tests.connect import connect_org
from tests.rules.factories import activate
from tests.rules.factories import simple_rules
from tests.servers import provider_urls
from tests.servers import sandbox_server


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture
def live(sandbox, database_url, session_factory, redis, tmp_path) -> JobContext:
    env = dunwell_env(
        tmp_path,
        DATABASE_URL=database_url,
        DELIVERY_RETRY_SECONDS="0,0",
        **provider_urls(sandbox),
    )
    return JobContext(Settings.from_env(env), session_factory, redis)


@pytest.fixture(autouse=True)
def clear_faults(sandbox):
    yield
    requests.delete(f"{sandbox}/_sandbox/faults", timeout=10)


def arm(sandbox: str, provider: str, kind: str, count: int = 1) -> None:
    body = {"provider": provider, "kind": kind, "count": count}
    requests.post(f"{sandbox}/_sandbox/faults", json=body, timeout=10).raise_for_status()


def connected(ctx: JobContext, provider: str) -> tuple[int, str]:
    """A synced organization with active rules, and one of its customers."""
    org_id = connect_org(ctx.settings, ctx.sessions, provider)
    run_sync(ctx, org_id)
    with session_scope(ctx.sessions) as db:
        activate(db, db.get(Organization, org_id), simple_rules())
        customer = db.scalars(
            select(Customer.external_id)
            .where(Customer.organization_id == org_id, Customer.deleted.is_(False))
            .order_by(Customer.id)
        ).first()
    assert customer is not None
    return org_id, customer


def planned(ctx: JobContext, org_id: int, customer: str, kind: str, payload: dict) -> int:
    """An action placed by hand (so the rules' re-check does not second-guess it)."""
    now = utcnow()
    with session_scope(ctx.sessions) as db:
        action = Action(
            organization_id=org_id,
            rule="manual",
            step=kind,
            target=f"customer:{customer}",
            period=now.date().isoformat(),
            kind=kind,
            customer_external_id=customer,
            status=S.PLANNED,
            decided_on=now.date(),
            scheduled_for=now - timedelta(seconds=1),
            payload=payload,
            explanation={},
        )
        db.add(action)
        db.flush()
        return action.id


def action(ctx: JobContext, action_id: int) -> Action:
    with session_scope(ctx.sessions) as db:
        found = db.get(Action, action_id)
        db.expunge(found)
        return found


def history(ctx: JobContext, action_id: int) -> list[tuple[str, str]]:
    with session_scope(ctx.sessions) as db:
        rows = db.scalars(
            select(ActionEvent).where(ActionEvent.action_id == action_id).order_by(ActionEvent.id)
        )
        return [(e.from_status, e.to_status) for e in rows]


def writes(sandbox: str, key: str) -> list[dict[str, Any]]:
    """The writes the sandbox received with idempotency key `key` (or a part of it)."""
    log = requests.get(f"{sandbox}/_sandbox/writes", timeout=10).json()
    return [w for w in log["writes"] if (w.get("idempotency_key") or "").startswith(key)]


def applied(sandbox: str, key: str) -> list[dict[str, Any]]:
    """Those writes that changed the ledger (not replays, not refusals)."""
    return [w for w in writes(sandbox, key) if w["applied"] and not w["replay"]]


def mirrored(ctx: JobContext, org_id: int, customer: str) -> tuple:
    """The mirror's version of a customer, and when its row was last written."""
    with session_scope(ctx.sessions) as db:
        row = db.execute(
            select(Customer.version, Customer.updated_at, Customer.synced_at).where(
                Customer.organization_id == org_id, Customer.external_id == customer
            )
        ).one()
        return tuple(row)


HOLD = {"on_hold": True, "reason": "Over 60 days"}


@pytest.mark.e2e
def test_a_hold_is_written_once_and_its_echo_changes_nothing(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    assert deliver_due(live, org_id, utcnow()) == 1
    done = action(live, action_id)
    assert done.status == S.SENT and done.provider_reference
    assert done.attempts == 1 and done.lease_until is None
    assert history(live, action_id) == [("planned", "pending"), ("pending", "sent")]
    assert len(applied(sandbox, done.key)) == 1
    # Delivering again does nothing; the sync that follows the provider's webhook finds the
    # customer as the write left it (the returned record was upserted), so no rule runs again.
    assert deliver(live, action_id).reason == "already sent"
    held = mirrored(live, org_id, customer)
    run_sync(live, org_id)
    assert mirrored(live, org_id, customer) == held
    assert len(writes(sandbox, done.key)) == 1


@pytest.mark.e2e
def test_a_write_cut_off_by_a_crash_is_resumed_with_the_same_key(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "note", {"on": "customer", "text": "Called"})
    now = utcnow()
    with session_scope(live.sessions) as db:
        taken = take(db, action_id, now)
    assert isinstance(taken, Taken)
    write(live, taken)  # the provider applied it, then the worker died before recording it
    assert action(live, action_id).status == S.PENDING
    assert len(applied(sandbox, taken.key)) == 1
    # While the lease holds, no one else takes it; once it runs out, a sweep resumes it.
    assert deliver(live, action_id, now).reason == "being written by another worker"
    resumed = deliver(live, action_id, now + timedelta(minutes=3))
    assert resumed is not None and resumed.status == S.SENT
    # The resumed write carries the same key: the note stands once in the ledger.
    assert len(applied(sandbox, taken.key)) == 1
    assert action(live, action_id).command["text"] == "Called"


@pytest.mark.e2e
def test_an_outage_is_retried_then_dead_lettered(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    arm(sandbox, "quickbooks", "server_error", count=100)
    first = deliver(live, action_id)
    assert first is not None and (first.status, first.outage) == (S.PENDING, True)
    assert action(live, action_id).attempts == 1
    deliver(live, action_id)
    last = deliver(live, action_id)
    assert last is not None and last.status == S.DEAD
    assert action(live, action_id).reason.startswith("gave up after 3 attempts")
    requests.delete(f"{sandbox}/_sandbox/faults", timeout=10)
    assert deliver(live, action_id).reason == "already dead"


@pytest.mark.e2e
def test_a_rate_limit_waits_for_retry_after_and_then_succeeds(live, sandbox) -> None:
    org_id, customer = connected(live, "xero")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    arm(sandbox, "xero", "rate_limit", count=4)  # more than the client retries by itself
    limited = deliver(live, action_id)
    assert limited is not None and (limited.status, limited.rate_limited) == (S.PENDING, True)
    waiting = action(live, action_id)
    assert waiting.attempts == 0 and waiting.scheduled_for > utcnow()
    assert deliver(live, action_id).reason == "not due yet"
    done = deliver(live, action_id, waiting.scheduled_for + timedelta(seconds=1))
    assert done is not None and done.status == S.SENT


@pytest.mark.e2e
def test_a_revoked_grant_waits_for_a_reconnect(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    arm(sandbox, "quickbooks", "revoke")
    result = deliver(live, action_id)
    assert result is not None and result.status == S.NEEDS_RECONNECT
    with session_scope(live.sessions) as db:
        assert db.get(Organization, org_id).status == "needs_reconnect"


def arm_fault(sandbox: str, **fault: Any) -> None:
    requests.post(f"{sandbox}/_sandbox/faults", json=fault, timeout=10).raise_for_status()


@pytest.mark.e2e
@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
def test_a_refused_write_fails_with_the_providers_message_and_is_not_retried(
    live, sandbox, provider
) -> None:
    org_id, customer = connected(live, provider)
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    arm_fault(sandbox, provider=provider, kind="reject", count=5, message="Customer is archived")
    result = deliver(live, action_id)
    assert result is not None and result.status == S.FAILED
    failed = action(live, action_id)
    assert "Customer is archived" in failed.reason and failed.attempts == 1
    assert deliver(live, action_id).reason == "already failed"
    assert applied(sandbox, failed.key) == []


@pytest.mark.e2e
def test_a_stale_sync_token_is_read_again_and_written_once(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    arm_fault(sandbox, provider="quickbooks", kind="stale", count=1)
    result = deliver(live, action_id)
    assert result is not None and result.status == S.SENT
    assert len(applied(sandbox, action(live, action_id).key)) == 1


@pytest.fixture
def live_mail(live, mail) -> JobContext:
    settings = live.settings.with_changes(smtp=mail.settings(), mail_from="ar@dunwell.test")
    return JobContext(settings, live.sessions, live.redis)


def owed(ctx: JobContext, org_id: int) -> dict[str, Any]:
    """A reminder line for the first open invoice (and so, a customer who owes something)."""
    return owed_by_customers(ctx, org_id, 1)[0]


@pytest.mark.e2e
def test_an_email_cut_off_by_a_crash_after_the_server_took_it_is_not_sent_twice(
    live_mail, sandbox, mail
) -> None:
    org_id, _ = connected(live_mail, "quickbooks")
    line = owed(live_mail, org_id)
    customer = line.pop("customer")
    command = SendEmail(customer, "pat@customer.test", "Overdue", "Please pay.", (line,))
    now = utcnow()
    payload = {"template": "t", "invoices": [line], "offers": [], "instalments": []}
    action_id = planned(live_mail, org_id, customer, "reminder", payload)
    with session_scope(live_mail.sessions) as db:
        row = db.get(Action, action_id)
        row.rule = "starter"  # decided by the rules: re-checked against the mirror
        row.status = S.PENDING
        row.command = command_json(command)
        row.lease_until = now - timedelta(seconds=1)  # its worker died mid-send
        key = row.key
    by_email(live_mail, org_id, key, command)  # the server took it, then the worker died
    resumed = deliver(live_mail, action_id, now)
    assert resumed is not None and resumed.status == S.SENT
    assert len([m for m in mail.mailbox.messages() if key in m["message_id"]]) == 1


def crashed_reminder(ctx: JobContext, org_id: int, line: dict[str, Any]) -> tuple[int, SendEmail]:
    """A rules' reminder whose worker died mid-send: pending, its command stored, its lease
    run out."""
    line = dict(line)
    customer = line.pop("customer")
    subject = f"Overdue ({uuid.uuid4().hex[:8]})"  # each run's note is new to the ledger
    command = SendEmail(customer, "pat@customer.test", subject, "Please pay.", (line,))
    payload = {"template": "t", "invoices": [line], "offers": [], "instalments": []}
    action_id = planned(ctx, org_id, customer, "reminder", payload)
    with session_scope(ctx.sessions) as db:
        row = db.get(Action, action_id)
        row.rule = "starter"
        row.step = subject  # one of several reminders of the day
        row.status = S.PENDING
        row.command = command_json(command)
        row.lease_until = utcnow() - timedelta(seconds=1)
    return action_id, command


def pay_in_sandbox(sandbox: str, ctx: JobContext, org_id: int, invoice_id: str) -> None:
    with session_scope(ctx.sessions) as db:
        realm = db.get(Organization, org_id).external_id
    url = f"{sandbox}/_sandbox/quickbooks/{realm}/payments"
    requests.post(url, json={"invoice_id": invoice_id}, timeout=10).raise_for_status()
    run_sync(ctx, org_id)


@pytest.mark.e2e
def test_a_reminder_cut_off_mid_send_is_finished_before_any_recheck(
    live_mail, sandbox, mail
) -> None:
    """The mail server took the reminder, the worker died, the invoice was paid before the
    action was resumed: the email went, so it is recorded as sent, once, and not cancelled."""
    org_id, _ = connected(live_mail, "quickbooks")
    line = owed(live_mail, org_id)
    action_id, command = crashed_reminder(live_mail, org_id, line)
    key = action(live_mail, action_id).key
    by_email(live_mail, org_id, key, command)
    pay_in_sandbox(sandbox, live_mail, org_id, line["external_id"])
    resumed = deliver(live_mail, action_id)
    assert resumed is not None and resumed.status == S.SENT
    assert [m for m in mail.mailbox.messages() if key in m["message_id"]] != []
    assert len([m for m in mail.mailbox.messages() if key in m["message_id"]]) == 1
    with session_scope(live_mail.sessions) as db:
        reasons = db.scalars(
            select(ActionEvent.reason)
            .where(ActionEvent.action_id == action_id)
            .order_by(ActionEvent.id)
        ).all()
    assert reasons[0].startswith("resumed: its worker stopped mid-write")


def far_time_zone() -> str:
    """A zone whose date differs from UTC's right now: UTC+14 from 10:00 UTC (its date is
    already tomorrow's), UTC-11 before (still yesterday's until 11:00 UTC)."""
    return "Pacific/Kiritimati" if utcnow().hour >= 10 else "Pacific/Pago_Pago"


@pytest.mark.e2e
def test_the_ledger_note_of_a_reminder_is_dated_in_the_organizations_time_zone(
    live_mail, sandbox, mail
) -> None:
    org_id, _ = connected(live_mail, "quickbooks")
    zone = far_time_zone()
    with session_scope(live_mail.sessions) as db:
        db.get(Organization, org_id).timezone = zone
    action_id, _ = crashed_reminder(live_mail, org_id, owed(live_mail, org_id))
    assert deliver_due(live_mail, org_id, utcnow()) == 2  # the reminder, then its record
    with session_scope(live_mail.sessions) as db:
        note = db.scalars(
            select(Action).where(Action.payload["record_of"].as_integer() == action_id)
        ).one()
        assert note.status == S.SENT
        text = note.payload["text"]
    local = local_date(utcnow(), zone).isoformat()
    assert local != utcnow().date().isoformat()
    assert f" on {local}:" in text
    [written] = writes(sandbox, note.key)
    assert written["status"] == 200 and local in json.dumps(written["body"])


@pytest.mark.e2e
def test_the_ledger_note_is_taken_as_it_is_made_and_resumed_if_its_worker_dies(
    live_mail, sandbox, mail
) -> None:
    """The note recording a reminder is made leased, its command fixed, in the transaction that
    records the reminder as sent (nothing to re-check: the reminder's checks just passed). A
    worker that dies before writing it leaves it to the run after its lease, same key, once."""
    org_id, _ = connected(live_mail, "quickbooks")
    action_id, _ = crashed_reminder(live_mail, org_id, owed(live_mail, org_id))
    sent = deliver(live_mail, action_id)  # the worker dies after this, before the note
    assert sent is not None and sent.status == S.SENT
    note_id = sent.follow_up.action_id
    note = action(live_mail, note_id)
    assert note.status == S.PENDING and note.lease_until > utcnow()
    assert note.command["type"] == "AddNote" and note.command["text"] == note.payload["text"]
    assert history(live_mail, note_id) == [("", S.PLANNED), (S.PLANNED, S.PENDING)]
    assert deliver_due(live_mail, org_id, utcnow()) == 0  # still leased to the dead worker
    later = note.lease_until + timedelta(seconds=1)
    assert deliver_due(live_mail, org_id, later) == 1
    assert action(live_mail, note_id).status == S.SENT
    assert [w["status"] for w in writes(sandbox, note.key)] == [200]


@pytest.mark.e2e
def test_a_note_handed_back_unwritten_goes_with_the_next_run_at_once(
    live_mail, sandbox, mail
) -> None:
    """A run stopped (another lane met an outage) between a reminder and its note hands the
    note back: no lease left to wait out, written by the next run with its key."""
    org_id, _ = connected(live_mail, "quickbooks")
    action_id, _ = crashed_reminder(live_mail, org_id, owed(live_mail, org_id))
    sent = deliver(live_mail, action_id)
    release(live_mail, sent.follow_up)
    note = action(live_mail, sent.follow_up.action_id)
    assert note.status == S.PENDING and note.lease_until is None and note.command is not None
    assert deliver_due(live_mail, org_id, utcnow()) == 1
    assert action(live_mail, note.id).status == S.SENT
    assert [w["status"] for w in writes(sandbox, note.key)] == [200]


@pytest.fixture
def roomy_xero(sandbox):
    """The module's Xero sandbox without its 60-calls-a-minute limit, for a test about what is
    asked, not how often: the module's earlier tests may have used this minute up."""
    limits = f"{sandbox}/_sandbox/xero/limits"
    requests.post(limits, json={"per_minute": 100_000}, timeout=10).raise_for_status()
    yield
    requests.post(limits, json={"per_minute": 60}, timeout=10).raise_for_status()


@pytest.mark.e2e
def test_xero_payment_links_are_asked_for_once_and_kept_in_the_mirror(
    live_mail, sandbox, roomy_xero, mail
) -> None:
    org_id, _ = connected(live_mail, "xero")
    line = owed(live_mail, org_id)
    with session_scope(live_mail.sessions) as db:
        invoice = db.scalars(
            select(Invoice).where(
                Invoice.organization_id == org_id, Invoice.external_id == line["external_id"]
            )
        ).one()
        assert invoice.link is None  # Xero's invoice listing carries no online-invoice URL
    first, _ = crashed_reminder(live_mail, org_id, line)
    assert deliver(live_mail, first).status == S.SENT
    [sent] = mail.mailbox.messages()
    link = stored_link(live_mail, org_id, line["external_id"])
    assert link and link in sent["text"]
    run_sync(live_mail, org_id)  # a later read of the invoice keeps the link
    assert stored_link(live_mail, org_id, line["external_id"]) == link
    # Asking Xero again now would fail; the second reminder has the link all the same.
    arm_fault(sandbox, provider="xero", kind="server_error", count=50, methods=["GET"])
    second, _ = crashed_reminder(live_mail, org_id, line)
    assert deliver(live_mail, second).status == S.SENT
    assert link in mail.mailbox.messages()[-1]["text"]


def stored_link(ctx: JobContext, org_id: int, invoice_id: str) -> str | None:
    with session_scope(ctx.sessions) as db:
        return db.scalar(
            select(Invoice.link).where(
                Invoice.organization_id == org_id, Invoice.external_id == invoice_id
            )
        )


@pytest.mark.e2e
def test_a_write_behind_a_long_rate_limit_is_rescheduled_without_holding_the_worker(
    live, sandbox
) -> None:
    org_id, customer = connected(live, "xero")
    first = planned(live, org_id, customer, "credit_hold", HOLD)
    second = planned(live, org_id, customer, "note", {"on": "customer", "text": "Called"})
    arm_fault(sandbox, provider="xero", kind="rate_limit", count=1, retry_after=20)
    started = time.monotonic()
    limited = deliver(live, first)
    behind = deliver(live, second)  # our limiter holds Xero's Retry-After for everyone
    assert time.monotonic() - started < 8
    for result in (limited, behind):
        assert result is not None and (result.status, result.rate_limited) == (S.PENDING, True)
    for action_id in (first, second):
        assert action(live, action_id).scheduled_for > utcnow() + timedelta(seconds=10)
    assert writes(sandbox, action(live, second).key) == []


@pytest.mark.e2e
def test_a_manual_note_for_a_customer_deleted_meanwhile_is_cancelled(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "note", {"on": "customer", "text": "Called"})
    with session_scope(live.sessions) as db:
        db.get(Action, action_id).rule = "manual"
        db.execute(
            update(Customer)
            .where(Customer.organization_id == org_id, Customer.external_id == customer)
            .values(deleted=True)
        )
    result = deliver(live, action_id)
    assert result is not None and (result.status, result.reason) == (
        S.CANCELLED,
        "the customer was deleted",
    )


def test_the_lease_length_is_a_setting(tmp_path) -> None:
    assert Settings.from_env(dunwell_env(tmp_path)).delivery_lease_seconds == 120
    env = dunwell_env(tmp_path, DELIVERY_LEASE_SECONDS="15")
    assert Settings.from_env(env).delivery_lease_seconds == 15
    with pytest.raises(SettingsError, match="DELIVERY_LEASE_SECONDS must be at least 1"):
        Settings.from_env(dunwell_env(tmp_path, DELIVERY_LEASE_SECONDS="0"))


@pytest.mark.e2e
def test_a_worker_holds_an_action_for_the_configured_lease(live, sandbox) -> None:
    org_id, customer = connected(live, "quickbooks")
    action_id = planned(live, org_id, customer, "credit_hold", HOLD)
    now = utcnow()
    with session_scope(live.sessions) as db:
        taken = take(db, action_id, now, timedelta(seconds=15))
    assert isinstance(taken, Taken)
    assert action(live, action_id).lease_until == now + timedelta(seconds=15)
    assert deliver(live, action_id, now + timedelta(seconds=14)).reason == (
        "being written by another worker"
    )
    assert deliver(live, action_id, now + timedelta(seconds=16)).status == S.SENT


@pytest.mark.e2e
def test_a_reminder_on_the_provider_channel_goes_by_the_providers_own_invoice_email(
    live_mail, sandbox, mail
) -> None:
    """(Xero's invoice email as a write is in tests/providers/test_contract.py; here the
    module's shared Xero sandbox would be near its 60-a-minute limit.)"""
    org_id, _ = connected(live_mail, "quickbooks")
    line = owed(live_mail, org_id)
    customer = line.pop("customer")
    payload = {
        "template": "t",
        "channel": "provider",
        "to": "pat@customer.test",
        "invoices": [line],
        "offers": [],
        "instalments": [],
    }
    action_id = planned(live_mail, org_id, customer, "reminder", payload)
    done = deliver_due(live_mail, org_id, utcnow())
    sent = action(live_mail, action_id)
    assert sent.status == S.SENT, (done, sent.reason)
    assert json.loads(json.dumps(sent.command))["type"] == "SendReminder"
    sends = applied(sandbox, sent.key)
    assert sends and all(line["external_id"] in json.dumps(w) for w in sends)
    assert not [m for m in mail.mailbox.messages() if sent.key in m["message_id"]]


def owed_by_customers(ctx: JobContext, org_id: int, count: int) -> list[dict[str, Any]]:
    """A reminder line for the first open invoice of each of `count` customers."""
    lines: dict[str, dict[str, Any]] = {}
    with session_scope(ctx.sessions) as db:
        for inv in db.scalars(
            select(Invoice)
            .where(Invoice.organization_id == org_id, Invoice.status == "open")
            .order_by(Invoice.id)
        ):
            lines.setdefault(
                inv.customer_external_id,
                {
                    "customer": inv.customer_external_id,
                    "external_id": inv.external_id,
                    "number": inv.number or inv.external_id,
                    "balance": str(inv.balance),
                    "currency": inv.currency,
                    "days_overdue": 1,
                },
            )
    assert len(lines) >= count, f"only {len(lines)} customers owe anything"
    return list(lines.values())[:count]


def sent_at(ctx: JobContext, action_id: int) -> Any:
    with session_scope(ctx.sessions) as db:
        return db.scalar(
            select(ActionEvent.id).where(
                ActionEvent.action_id == action_id, ActionEvent.to_status == S.SENT
            )
        )


@pytest.mark.e2e
def test_a_run_writes_several_customers_at_once_and_each_customers_in_order(
    live_mail, sandbox, mail
) -> None:
    """DELIVERY_LANES: customers' reminders go out over several SMTP connections at once; each
    customer's reminder is sent before the ledger note that records it."""
    ctx = JobContext(
        live_mail.settings.with_changes(delivery_lanes=3), live_mail.sessions, live_mail.redis
    )
    org_id, _ = connected(ctx, "quickbooks")
    reminders = [
        crashed_reminder(ctx, org_id, line)[0] for line in owed_by_customers(ctx, org_id, 6)
    ]
    assert deliver_due(ctx, org_id, utcnow()) == 12  # six reminders, six records of them
    with session_scope(ctx.sessions) as db:
        notes = {
            a.payload["record_of"]: (a.id, a.status)
            for a in db.scalars(
                select(Action).where(Action.payload["record_of"].as_integer().in_(reminders))
            )
        }
    assert sorted(notes) == sorted(reminders)
    for reminder in reminders:
        note_id, status = notes[reminder]
        assert action(ctx, reminder).status == S.SENT and status == S.SENT
        assert sent_at(ctx, reminder) < sent_at(ctx, note_id)
        assert len(applied(sandbox, action(ctx, note_id).key)) == 1
    keys = {action(ctx, r).key for r in reminders}
    emails = [m for m in mail.mailbox.messages() if any(k in m["message_id"] for k in keys)]
    assert len(emails) == 6
    assert 2 <= len({m["peer"] for m in emails}) <= 3  # one connection per lane


@pytest.mark.e2e
def test_an_outage_stops_every_lane_and_loses_nothing(live, sandbox) -> None:
    ctx = JobContext(live.settings.with_changes(delivery_lanes=3), live.sessions, live.redis)
    org_id, _ = connected(ctx, "quickbooks")
    customers = [line["customer"] for line in owed_by_customers(ctx, org_id, 6)]
    ids = [planned(ctx, org_id, c, "credit_hold", HOLD) for c in customers]
    arm(sandbox, "quickbooks", "server_error", count=100)
    taken = deliver_due(ctx, org_id, utcnow())
    assert 1 <= taken < len(ids)  # the lanes stopped at the outage
    found = [action(ctx, i) for i in ids]
    assert {a.status for a in found} == {S.PLANNED, S.PENDING}
    assert all(a.attempts == 1 for a in found if a.status == S.PENDING)
    requests.delete(f"{sandbox}/_sandbox/faults", timeout=10)
    later = max(a.scheduled_for for a in found) + timedelta(seconds=1)
    deliver_due(ctx, org_id, later)
    assert {action(ctx, i).status for i in ids} == {S.SENT}
