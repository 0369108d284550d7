"""From a change in the sandbox to the reminder in its mailbox and the note in its ledger.

Through the demo stack (the sandbox with its SMTP server, gunicorn, one RQ worker, Redis; no
cron), on SQLite and PostgreSQL side by side:

- latency: `--changes` overdue invoices created in the sandbox, one every `--interval` seconds,
  each for a customer of its own. QuickBooks' webhook reaches the web app, the worker syncs,
  evaluates that customer and delivers: p50/p95/max from the change to the later of the email
  (the mail server's receipt time) and the ledger note (the sandbox's write time);
- throughput: `--actions` reminders planned at once (each goes out by email, then its record
  as a note on the customer in QuickBooks: two actions), delivered by one worker's job,
  `outbox.jobs.deliver_due_for_organization`, run in this process so it can be profiled
  (`--profile`); the RQ worker is stopped meanwhile. The provider's rate limits are lifted for
  this part (the sandbox's and our limiter's): in production they are the ceiling.

    .venv/bin/python bench/writeback.py [--changes 200] [--interval 0.25] [--actions 400]
        [--databases sqlite,postgresql] [--profile]

PostgreSQL is DUNWELL_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test), in a
schema of its own (bench.stackrun.database_url). Redis is REDIS_URL (default: 127.0.0.1, port
6379 + DUNWELL_TEST_SLOT).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench.stackrun import database_url  # noqa: E402
from bench.stackrun import percentile  # noqa: E402
from core.db import session_scope  # noqa: E402
from core.db import utcnow  # noqa: E402
from outbox.jobs import deliver_due  # noqa: E402
from outbox.models import Action  # noqa: E402
from outbox.models import ActionStatus as S  # noqa: E402
from providers.quickbooks import api as quickbooks_api  # noqa: E402
from tests.delivery import DeliveryStack  # noqa: E402
from tests.delivery import World  # noqa: E402
from tests.delivery import busy  # noqa: E402
from tests.delivery import idle_customers  # noqa: E402
from tests.delivery import mailbox  # noqa: E402
from tests.delivery import open_world  # noqa: E402
from tests.delivery import owed_lines  # noqa: E402
from tests.delivery import planned  # noqa: E402
from tests.delivery import reminder_payload  # noqa: E402
from tests.delivery import rules  # noqa: E402
from tests.delivery import sandbox_post  # noqa: E402
from tests.delivery import settle  # noqa: E402
from tests.delivery import write_log  # noqa: E402
from tests.servers import free_port  # noqa: E402

SLOT = int(os.environ.get("DUNWELL_TEST_SLOT", "0") or 0)
REDIS_URL = os.environ.get("REDIS_URL", f"redis://127.0.0.1:{6379 + SLOT}/9")


def start(kind: str, workdir: Path) -> tuple[DeliveryStack, World]:
    Redis.from_url(REDIS_URL).flushdb()
    stack = DeliveryStack(
        web_port=free_port(),
        sandbox_port=free_port(),
        database_url=database_url(kind, workdir, "bench_writeback"),
        redis_url=REDIS_URL,
        workdir=workdir / "stack",
        sandbox_size="demo",
    )
    stack.start()
    doc = rules()
    doc["limits"]["approve_runs_over"] = 100_000  # the bench's changes come in bursts
    return stack, open_world(stack, doc, quiet_start=True)


# ---------------------------------------------------------------- latency


def latency(world: World, changes: int, interval: float) -> dict[str, Any]:
    """Seconds from each sandbox change to its email and its ledger note, both there."""
    customers = idle_customers(world)
    with session_scope(world.rt.sessions) as db:
        from core.models import Customer

        emailed = set(
            db.scalars(
                select(Customer.external_id).where(
                    Customer.organization_id == world.org_id,
                    Customer.email.is_not(None),
                    Customer.email != "",
                    Customer.deleted.is_(False),
                    Customer.active.is_(True),
                )
            )
        )
    customers += sorted(emailed - set(customers))
    if len(customers) < changes:
        raise SystemExit(f"only {len(customers)} customers to change; ask for fewer --changes")
    made: dict[str, float] = {}
    customer_of: dict[str, str] = {}
    issued = 0.0
    started = time.monotonic()
    for i, customer in enumerate(customers[:changes]):
        time.sleep(max(0.0, started + i * interval - time.monotonic()))
        before = time.time()
        body = {
            "customer_id": customer,
            "amount": f"{100 + i}.{i % 100:02d}",
            "txn_date": (utcnow().date().fromordinal(utcnow().date().toordinal() - 40)).isoformat(),
            "due_in_days": 30,
        }
        invoice = sandbox_post(world, "invoices", body)["Invoice"]
        made[invoice["DocNumber"]] = before
        customer_of[invoice["DocNumber"]] = customer
    issued = time.monotonic() - started
    deadline = time.monotonic() + 120
    seen: dict[str, float] = {}
    progress = time.monotonic()
    while time.monotonic() < deadline and len(seen) < len(made):
        arrived = _arrivals(world, made)
        now_seen = {n: t for n, t in arrived.items() if t is not None}
        if len(now_seen) > len(seen):
            progress = time.monotonic()
        seen = now_seen
        if time.monotonic() - progress > 10 and not busy(world):
            break  # the rest are not chased (credit covers them, or they are not overdue)
        time.sleep(0.5)
    waits = sorted(seen[n] - made[n] for n in seen)
    missing = len(made) - len(seen)
    unsent = [customer_of[n] for n in made if n not in seen]
    order = list(made)
    slowest = sorted(seen, key=lambda n: seen[n] - made[n], reverse=True)[:10]
    return {
        "slowest": [
            {
                "change": order.index(n),
                "at_s": round(made[n] - made[order[0]], 1),
                "wait_s": round(seen[n] - made[n], 2),
            }
            for n in slowest
        ],
        "changes": len(made),
        "issued_per_second": round(len(made) / issued, 2) if issued else 0.0,
        "delivered": len(waits),
        "not_reminded": missing,
        "why_not": _why_not(world, unsent),
        "p50_s": round(statistics.median(waits), 3) if waits else float("nan"),
        "p95_s": round(percentile(waits, 95), 3) if waits else float("nan"),
        "max_s": round(waits[-1], 3) if waits else float("nan"),
    }


def _arrivals(world: World, made: dict[str, float]) -> dict[str, float | None]:
    """For each new invoice number: when both its email and its note had arrived (epoch)."""
    emails: dict[str, float] = {}
    for message in mailbox(world):
        for number in _numbers_in(message["text"], made):
            emails.setdefault(number, _epoch(message["received_at"]))
    notes: dict[str, float] = {}
    for write in write_log(world):
        if not write["applied"] or write["replay"]:
            continue
        for number in _numbers_in(json.dumps(write["body"]), made):
            notes.setdefault(number, _epoch(write["at"]))
    return {n: max(emails[n], notes[n]) if n in emails and n in notes else None for n in made}


def _why_not(world: World, customers: list[str]) -> dict[str, int]:
    """Why the rules did not remind these customers: the reasons of their actions that did not
    go out, or what holds them (a dispute, a promise, a plan)."""
    from rules.pauses.models import Dispute
    from rules.pauses.models import PaymentPlan
    from rules.pauses.models import PromiseToPay

    reasons: Counter[str] = Counter()
    with session_scope(world.rt.sessions) as db:
        for customer in customers:
            action = db.scalars(
                select(Action)
                .where(
                    Action.organization_id == world.org_id,
                    Action.customer_external_id == customer,
                    Action.kind == "reminder",
                )
                .order_by(Action.id.desc())
            ).first()
            pause = next(
                (
                    model.__tablename__
                    for model in (Dispute, PromiseToPay, PaymentPlan)
                    if db.scalars(
                        select(model.id).where(
                            model.organization_id == world.org_id,
                            model.customer_external_id == customer,
                        )
                    ).first()
                ),
                None,
            )
            if action is not None and action.status != S.SENT:
                reasons[f"{action.status}: {action.reason}"[:120]] += 1
            elif pause is not None:
                reasons[f"paused: {pause}"] += 1
            else:
                reasons["no reminder decided"] += 1
    return dict(reasons)


def _numbers_in(text: str, made: dict[str, float]) -> list[str]:
    return [n for n in made if f"{n} " in text or f"{n})" in text or f"{n}," in text]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).astimezone(UTC).timestamp()


# ---------------------------------------------------------------- throughput


def throughput(
    world: World, count: int, profile: bool, lanes: list[int]
) -> dict[str, dict[str, object]]:
    """Actions per second delivered by one worker's job, for each number of lanes
    (DELIVERY_LANES) side by side, each on customers of its own, and where the time goes."""
    # Nothing else delivers meanwhile: the worker is stopped once the latency part's work is
    # done (a webhook echo that comes after it queues a sync no one needs here).
    settle(world, timeout=60, scheduled=False)
    world.stack.kill("worker")
    requests.post(
        f"{world.sandbox}/_sandbox/quickbooks/limits",
        json={"per_minute": 1_000_000, "in_flight": 100},
        timeout=10,
    ).raise_for_status()
    quickbooks_api.PER_MINUTE, quickbooks_api.IN_FLIGHT = 1_000_000, 100
    owing = owed_lines(world)
    each = min(count // 2, len(owing) // len(lanes))
    return {
        f"lanes={n}": _one_run(world, owing[i * each : (i + 1) * each], profile, n)
        for i, n in enumerate(lanes)
    }


def _one_run(
    world: World, owing: list[tuple[str, dict[str, Any]]], profile: bool, lanes: int
) -> dict[str, object]:
    ids = [
        planned(world, "reminder", customer, reminder_payload(line), rule="bench")
        for customer, line in owing
    ]
    rt = dataclasses.replace(
        world.rt, settings=world.rt.settings.with_changes(delivery_lanes=lanes)
    )
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    taken = deliver_due(rt, world.org_id, utcnow())
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    with session_scope(world.rt.sessions) as db:
        by_status = dict(
            db.execute(
                select(Action.status, func.count(Action.id))
                .where(
                    Action.organization_id == world.org_id,
                    (Action.id.in_(ids)) | (Action.payload["record_of"].as_integer().in_(ids)),
                )
                .group_by(Action.status)
            ).all()
        )
    sent = by_status.get(S.SENT, 0)
    with session_scope(world.rt.sessions) as db:
        cancelled = Counter(
            db.scalars(
                select(Action.reason).where(Action.id.in_(ids), Action.status == S.CANCELLED)
            )
        )
    found: dict[str, object] = {
        "reminders_planned": len(ids),
        "actions_taken": taken,
        "actions_sent": sent,
        "by_status": {str(k): v for k, v in by_status.items()},
        "cancelled_because": dict(cancelled),
        "seconds": round(seconds, 2),
        "actions_per_second": round(sent / seconds, 1) if seconds else 0.0,
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        found["profile"] = out.getvalue()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--actions", type=int, default=400)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--lanes", default="1,4", help="DELIVERY_LANES to compare, e.g. 1,4")
    parser.add_argument("--keep", help="keep the stack's logs and databases in this folder")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix=f"writeback-{kind}-") as tmp:
            place = Path(args.keep) / kind if args.keep else Path(tmp)
            place.mkdir(parents=True, exist_ok=True)
            stack, world = start(kind, place)
            try:
                results[kind] = {
                    "latency": latency(world, args.changes, args.interval),
                    "throughput": throughput(
                        world, args.actions, args.profile, [int(n) for n in args.lanes.split(",")]
                    ),
                }
            finally:
                stack.stop()
                Redis.from_url(REDIS_URL).flushdb()
        profiles = [run.pop("profile", None) for run in results[kind]["throughput"].values()]
        print(json.dumps({kind: results[kind]}, indent=2), flush=True)
        for profile in profiles:
            if profile:
                print(profile, flush=True)
    print(_table(results))
    return 0


def _table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    runs = [name for r in results.values() for name in r["throughput"]]
    lanes = list(dict.fromkeys(runs))
    rows = [
        "| database | changes | p50 (s) | p95 (s) | max (s) | not reminded | "
        + " | ".join(f"actions/s, one worker, {name}" for name in lanes)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(lanes),
    ]
    for kind, r in results.items():
        lat, thr = r["latency"], r["throughput"]
        cells = [
            f"{thr[n]['actions_per_second']} ({thr[n]['actions_sent']} in {thr[n]['seconds']} s)"
            for n in lanes
            if n in thr
        ]
        rows.append(
            f"| {kind} | {lat['changes']} at {lat['issued_per_second']}/s | {lat['p50_s']} | "
            f"{lat['p95_s']} | {lat['max_s']} | {lat['not_reminded']} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
