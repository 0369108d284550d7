"""Scale-out on PostgreSQL (issue 8, item 12; not a test; prints figures).

For each worker count (default 1, 2 and 4): a fresh demo stack on PostgreSQL (a schema of its
own) whose Xero sandbox holds `--orgs` organisations (the three seeded ones at `--size` plus a
fleet of tiny ones: 10 contacts and 60 invoices each), the extra RQ workers started beside the
stack's own. Then, timed:

- sync: one Xero consent connects every organisation; until each has finished its backfill;
- evaluation: the starter rules activated for every organisation and an evaluation requested
  for each; until the rules queue is empty and no rules job runs.

Per-organisation provider limits across workers: the sandbox counts, per tenant, the calls made
in each of its minute windows (refused ones included), the most in flight at once, and the
calls it refused (429). The figures show the largest of each over all organisations beside
Xero's limits (60 a minute, 5 in flight).

    .venv/bin/python bench/scaleout.py --orgs 200 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.job import JobStatus
from rq.registry import StartedJobRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stackrun import organizations  # noqa: E402
from bench.stackrun import start_stack  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.queues import RULES  # noqa: E402
from core.queues import WORKER_QUEUES  # noqa: E402
from core.worker import WORKER_ARGS  # noqa: E402
from demo.browser import FormBrowser  # noqa: E402
from demo.run import demo_rules  # noqa: E402
from demo.stack import VENV_BIN  # noqa: E402
from demo.stack import Stack  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDED_XERO_ORGS = 3


def extra_workers(stack: Stack, count: int) -> None:
    """`count` more RQ workers, kept in stack.processes so that stack.stop() stops them."""
    for n in range(count):
        log = open(stack.workdir / f"worker-extra-{n}.log", "ab")  # noqa: SIM115
        stack.logs.append(log)
        command = [str(VENV_BIN / "rq"), "worker", *WORKER_ARGS, "--url", stack.redis_url]
        stack.processes[f"worker-{n + 2}"] = subprocess.Popen(
            [*command, *WORKER_QUEUES],
            cwd=ROOT,
            env=stack.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def synced_count(stack: Stack) -> tuple[int, int]:
    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            total, done = conn.execute(
                sa.text("SELECT count(*), count(last_synced_at) FROM organization")
            ).one()
    finally:
        engine.dispose()
    return int(total), int(done)


def wait_until(condition: Callable[[], Any], timeout: float, what: str, stack: Stack) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        stack.check_alive()
        if condition():
            return time.perf_counter() - started
        time.sleep(0.5)
    raise SystemExit(f"{what} did not happen within {timeout:.0f}s")


def rules_idle(redis: Redis) -> bool:
    """No rules job waits or runs. RQ 3.0 keeps a job in its started registry a minute after it
    ended, so the registry's jobs are asked for their status."""
    if Queue(RULES, connection=redis).count:
        return False
    ids = StartedJobRegistry(RULES, connection=redis).get_job_ids()
    jobs = Job.fetch_many(ids, connection=redis)
    return not any(j is not None and j.get_status() == JobStatus.STARTED for j in jobs)


def run_once(workers: int, orgs: int, size: str, timeout: float) -> dict[str, float]:
    os.environ["SANDBOX_XERO_FLEET"] = str(max(0, orgs - SEEDED_XERO_ORGS))
    workdir = Path(tempfile.mkdtemp(prefix=f"dunwell-scaleout-{workers}-"))
    stack = start_stack(workdir, "postgresql", size)
    try:
        extra_workers(stack, workers - 1)
        browser = FormBrowser(stack.web_url)
        browser.sign_in("xero")
        requests.delete(f"{stack.sandbox_url}/_sandbox/xero/limits/usage", timeout=10)
        started = time.perf_counter()
        browser.connect("xero")
        connected = time.perf_counter() - started
        sync = connected + wait_until(
            lambda: synced_count(stack)[1] >= orgs, timeout, f"{orgs} backfills", stack
        )
        ids = [o.id for o in organizations(stack.database_url)]
        document = demo_rules(browser.api("GET", ids[0], "rules/starter"))
        body = {"document": document, "activate": True, "note": "scale-out"}
        redis = Redis.from_url(stack.redis_url)
        started = time.perf_counter()
        for org_id in ids:
            browser.api("POST", org_id, "rules/versions", body)
            browser.api("POST", org_id, "evaluate")
        requested = time.perf_counter() - started
        evaluation = requested + wait_until(
            lambda: rules_idle(redis), timeout, "the evaluations", stack
        )
        usage = requests.get(f"{stack.sandbox_url}/_sandbox/xero/limits/usage", timeout=10).json()
        tenants = usage["tenants"].values()
        return {
            "workers": workers,
            "orgs": len(ids),
            "connect_s": connected,
            "sync_s": sync,
            "evaluate_s": evaluation,
            "api_s": requested,
            "calls": sum(t["calls"] for t in tenants),
            "peak_minute": max(t["peak_minute_calls"] for t in tenants),
            "peak_in_flight": max(t["peak_in_flight"] for t in tenants),
            "refused": sum(t["refused"] for t in tenants),
            "limit_minute": usage["limits"]["per_minute"],
            "limit_in_flight": usage["limits"]["concurrent"],
        }
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--size", default="small", choices=("small", "demo"))
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        print(f"-- {workers} worker(s), {args.orgs} organisations", flush=True)
        row = run_once(workers, args.orgs, args.size, args.timeout)
        print(row, flush=True)
        rows.append(row)
    print(
        "\n| workers | orgs | connect s | sync all s | evaluate all s | provider calls | "
        "peak calls/min per org (limit) | peak in flight per org (limit) | 429s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")  # one per column
    for r in rows:
        print(
            f"| {r['workers']} | {r['orgs']} | {r['connect_s']:.1f} | {r['sync_s']:.1f} | "
            f"{r['evaluate_s']:.1f} ({r['api_s']:.1f}) | {r['calls']} | "
            f"{r['peak_minute']} ({r['limit_minute']}) | "
            f"{r['peak_in_flight']} ({r['limit_in_flight']}) | {r['refused']} |"
        )
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
