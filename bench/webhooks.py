"""Webhook acknowledgement latency under load (issue 8, item 8; not a test; prints figures).

Runs the demo stack (demo.Stack: sandbox, gunicorn with the demo's settings for the pages and
another for the webhooks, an RQ worker with its scheduler, cron), connects every sandbox
company, then for `--seconds` sends validly signed webhooks (QuickBooks CloudEvents and Xero
events, alternating, each a new event for a connected organization) at `--rate` per second to
the webhook gunicorn (`--receiver web`: to the pages' gunicorn), and at the same time, at the
same rate, POSTs of the same bodies to a bare Flask endpoint (bench/bare_app.py) under another
gunicorn with the same settings. Meanwhile:

- a backfill runs: whenever an organization's sync is idle, its sync cursors are deleted and
  a sync is requested, so the worker re-reads the whole ledger again and again;
- a backtest runs: 36-month backtests through the JSON API, one after the other.

Open loop: requests leave on schedule whether or not earlier ones were answered; latency is
from writing the request to reading the whole response, on keep-alive connections.

    .venv/bin/python bench/webhooks.py --rate 300 --seconds 30

Target: p99 of the webhook ack under 25 ms and within 5x the bare endpoint's p99.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import sqlalchemy as sa
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stackrun import BENCH_REDIS_DB  # noqa: E402
from bench.stackrun import Org  # noqa: E402
from bench.stackrun import Sample  # noqa: E402
from bench.stackrun import connect_all  # noqa: E402
from bench.stackrun import percentile  # noqa: E402
from bench.stackrun import request_bytes  # noqa: E402
from bench.stackrun import run_load  # noqa: E402
from bench.stackrun import start_stack  # noqa: E402
from bench.stackrun import webhook_for  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.locks import is_held  # noqa: E402
from core.queues import SYNC  # noqa: E402
from core.queues import enqueue_once  # noqa: E402
from demo.browser import FormBrowser  # noqa: E402
from demo.stack import VENV_BIN  # noqa: E402
from demo.stack import _descendants  # noqa: E402
from demo.stack import _free_port  # noqa: E402
from sync.jobs import sync_job_id  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 25.0
TARGET_RATIO = 5.0


def start_bare(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    log = open(workdir / "bare.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4",
            "--graceful-timeout", "5", "--bind", f"127.0.0.1:{port}", "bench.bare_app:app",
        ],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    for _ in range(100):
        try:
            requests.post(f"http://127.0.0.1:{port}/bare", data=b"{}", timeout=1)
            return process, port
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the bare gunicorn did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and everything under it, so far (Linux)."""
    ticks = 0
    for one in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Background:
    """The backfill loop and the backtest loop, each in a thread, with what they did."""

    def __init__(self, stack_db: str, redis_url: str, browser: FormBrowser, orgs: list[Org]):
        self.engine = make_engine(stack_db)
        self.redis = Redis.from_url(redis_url)
        self.browser = browser
        self.orgs = orgs
        self.stop = threading.Event()
        self.backfills = 0
        self.backtests = 0
        self.backtest_seconds: list[float] = []
        self.busy_ticks = 0
        self.ticks = 0
        self.threads = [
            threading.Thread(target=self._backfills, daemon=True),
            threading.Thread(target=self._backtests, daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=120)
        self.engine.dispose()

    def _backfills(self) -> None:
        while not self.stop.is_set():
            syncing = False
            for org in self.orgs:
                if is_held(self.redis, sync_job_id(org.id)):
                    syncing = True
                    continue
                self._restart_backfill(org)
            self.ticks += 1
            self.busy_ticks += syncing
            self.stop.wait(0.2)

    def _restart_backfill(self, org: Org) -> None:
        queued = self.redis.lrange(f"rq:queue:{SYNC}", 0, -1)
        names = [j.decode() if isinstance(j, bytes) else j for j in queued]
        if any(name.startswith(sync_job_id(org.id)) for name in names):
            return
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("DELETE FROM sync_cursor WHERE organization_id = :o"), {"o": org.id}
            )
        outcome = enqueue_once(
            self.redis, SYNC, "sync.jobs.sync_organization", org.id, job_id=sync_job_id(org.id)
        )
        self.backfills += outcome != "coalesced"

    def _backtests(self) -> None:
        org = self.orgs[0]
        body = {"months": 36, "document": self.browser.api("GET", org.id, "rules/starter")}
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                self.browser.api("POST", org.id, "rules/backtest", body)
            except (SystemExit, requests.RequestException) as exc:  # printed, then go on
                print(f"backtest failed: {exc}", file=sys.stderr)
                self.stop.wait(1)
                continue
            self.backtest_seconds.append(time.perf_counter() - started)
            self.backtests += 1


def build_requests(
    orgs: list[Org], count: int, web_host: str, bare_host: str
) -> tuple[list[bytes], list[bytes]]:
    rnd = random.Random(7)
    by_provider = {p: [o for o in orgs if o.provider == p] for p in ("quickbooks", "xero")}
    cycle = itertools.cycle(["quickbooks", "xero"])
    webhooks, bare = [], []
    for _ in range(count):
        org = rnd.choice(by_provider[next(cycle)])
        body, headers = webhook_for(org, str(rnd.randint(1, 30000)))
        webhooks.append(request_bytes(web_host, f"/webhooks/{org.provider}", body, headers))
        bare.append(request_bytes(bare_host, "/bare", body, headers))
    return webhooks, bare


def report(samples: list[Sample], seconds: float, background: Background) -> bool:
    print(f"\n{'endpoint':<10} {'n':>6} {'non-200':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8} {'sent late p99 ms':>17}")  # fmt: skip
    p99 = {}
    for name in ("webhook", "bare"):
        mine = [s for s in samples if s.target == name]
        ms = [s.seconds * 1000 for s in mine]
        late = [s.late * 1000 for s in mine]
        bad = sum(s.status != 200 for s in mine)
        p99[name] = percentile(ms, 99)
        print(
            f"{name:<10} {len(mine):>6} {bad:>8} {percentile(ms, 50):>8.1f} "
            f"{percentile(ms, 95):>8.1f} {p99[name]:>8.1f} {max(ms):>8.1f} "
            f"{percentile(late, 99):>17.1f}"
        )
    errors = Counter(f"{s.target}: {s.status} {s.error}" for s in samples if s.status != 200)
    for what, count in errors.most_common():
        print(f"  {count} x {what}")
    ratio = p99["webhook"] / p99["bare"]
    busy = background.busy_ticks / max(1, background.ticks)
    print(
        f"\nwebhook p99 / bare p99 = {ratio:.1f}x (target <= {TARGET_RATIO:.0f}x); "
        f"webhook p99 {p99['webhook']:.1f} ms (target < {TARGET_P99_MS:.0f} ms)"
    )
    backtest = percentile([s * 1000 for s in background.backtest_seconds], 50)
    print(
        f"background over {seconds:.0f}s: {background.backfills} backfills started, a sync "
        f"running {busy:.0%} of the time; {background.backtests} 36-month backtests "
        f"(median {backtest:.0f} ms)"
    )
    webhook_bad = sum(s.status != 200 for s in samples if s.target == "webhook")
    return p99["webhook"] < TARGET_P99_MS and ratio <= TARGET_RATIO and webhook_bad == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=300, help="requests/s to each endpoint")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--size", default="demo", choices=("small", "demo", "large"))
    parser.add_argument("--no-background", action="store_true", help="no backfill, no backtest")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    parser.add_argument(
        "--receiver",
        choices=("hooks", "web"),
        default="hooks",
        help="send the webhooks to the stack's webhook gunicorn (where the sandbox sends them) "
        "or to the web app's gunicorn, which also serves the pages and the backtests",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dunwell-bench-webhooks-"))
    stack = start_stack(
        workdir, args.database, args.size, redis_db=BENCH_REDIS_DB + 1, name="webhooks"
    )
    bare, bare_port = start_bare(workdir)
    background = None
    try:
        print(f"stack up ({args.database}, sandbox {args.size}); connecting...", flush=True)
        browser, orgs = connect_all(stack)
        print(f"{len(orgs)} organizations connected; load for {args.seconds:.0f}s", flush=True)
        count = int(args.rate * args.seconds)
        port = stack.hooks_port if args.receiver == "hooks" else stack.web_port
        webhooks, bare_requests = build_requests(
            orgs, count, f"127.0.0.1:{port}", f"127.0.0.1:{bare_port}"
        )
        background = Background(stack.database_url, stack.redis_url, browser, orgs)
        if not args.no_background:
            background.start()
            time.sleep(2)  # the first backfills and backtest under way
        load = {"webhook": (port, webhooks), "bare": (bare_port, bare_requests)}
        server = stack.processes[args.receiver].pid
        cpu_before = {"webhook": cpu_seconds(server), "bare": cpu_seconds(bare.pid)}
        samples = run_load(load, args.rate)
        cpu = {
            "webhook": cpu_seconds(server) - cpu_before["webhook"],
            "bare": cpu_seconds(bare.pid) - cpu_before["bare"],
        }
        background.finish()
        stack.check_alive()
        met = report(samples, args.seconds, background)
        print(
            f"server CPU per request: webhook {cpu['webhook'] / count * 1000:.2f} ms "
            f"({args.receiver} gunicorn), bare {cpu['bare'] / count * 1000:.2f} ms"
        )
        print(f"webhooks sent to the {args.receiver} gunicorn")
        print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
        print("target met" if met else "target MISSED")
    finally:
        if background is not None:
            background.stop.set()
        bare.send_signal(signal.SIGTERM)
        bare.wait(timeout=30)
        stack.stop()
        if args.keep:
            print(f"logs in {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    main()
