"""Fault injection against a running demo stack (issue 8, item 11): the rig and the trials that
bench/faults.py repeats and tests/e2e/test_faults.py runs a few of.

The rig is demo.Stack on a Redis server of its own (a spare port, append-only file
on, so a restart keeps the queues as a production Redis would) and, with `postgres="private"`,
a PostgreSQL cluster of its own made with initdb/pg_ctl in a temporary directory (never the
shared server). A trial injects one fault while the ledgers change (a payment in one company
of each provider), ends it, and then checks:

- recovery: every organization's queue moves again: a sync requested after the fault ended
  finishes, measured from the end of the fault (the limit is a minute);
- the mirror equals the sandbox: each organization's open balance per currency, as the admin
  API reports it, equals the sandbox's own summary (a payment made during the fault is not lost);
- nothing duplicated: no idempotency key applied twice in the sandbox's write log
  (`/_sandbox/writes`), no Message-ID twice in its mailbox (`/_sandbox/mail`).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path

import requests
import sqlalchemy as sa
from redis import Redis

from bench.stackrun import Org
from bench.stackrun import connect_all
from bench.stackrun import database_url
from core.db import make_engine
from core.locks import is_held
from core.queues import SYNC
from core.queues import WORKER_QUEUES
from core.queues import enqueue_once
from core.worker import WORKER_ARGS
from demo.browser import FormBrowser
from demo.run import _actions
from demo.run import approve_a_sample
from demo.run import demo_rules
from demo.run import make_sandbox_payment
from demo.run import open_balances
from demo.run import sandbox_open_balances
from demo.stack import VENV_BIN
from demo.stack import Stack
from outbox.perform import LEASE
from sync.jobs import sync_job_id

RECOVERY_LIMIT = 60.0
WRITE_LIMIT = LEASE.total_seconds() + 90
STORM_COUNT = 100_000
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of its own on a spare port, with its append-only file in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--appendonly", "yes", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait(lambda: _redis_up(self.url), 10, "the private Redis")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()


def _redis_up(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb as the postgres user, in a temporary directory),
    so restarting it disturbs nobody else."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / "pg"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True, capture_output=True, cwd="/tmp",
        )  # fmt: skip

    def start(self) -> None:
        if not self.dir.exists():
            self.dir.mkdir(parents=True)
            shutil.chown(self.dir, "postgres", "postgres")
            self.dir.parent.chmod(0o755)
            self._as_postgres(
                str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres"
            )
        self._as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-w", "-l", str(self.dir / "log"),
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip

    def restart(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", "fast", "-w", "stop")
        self.start()

    def stop(self) -> None:
        if self.dir.exists():
            subprocess.run(
                ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.dir),
                 "-m", "immediate", "-w", "stop"],
                capture_output=True, cwd="/tmp", check=False,
            )  # fmt: skip


@dataclass
class Outcome:
    trial: str
    recovery: float  # seconds from the end of the fault until every queue moved again
    stalled: list[int] = field(default_factory=list)  # organizations whose sync did not finish
    mismatched: list[str] = field(default_factory=list)  # mirror != sandbox
    duplicates: int = 0
    note: str = ""

    @property
    def lost(self) -> int:
        return len(self.mismatched) + len(self.stalled)


class Rig:
    """The stack under test, with what each trial needs to break and watch it."""

    def __init__(self, workdir: Path, database: str = "sqlite", size: str = "small") -> None:
        self.workdir = workdir
        self.redis_server = PrivateRedis(workdir)
        self.postgres = PrivatePostgres(workdir) if database == "private" else None
        self.database = database
        self.size = size
        self.stack: Stack | None = None
        self.browser: FormBrowser | None = None
        self.orgs: list[Org] = []
        self.rules_on: list[Org] = []  # organisations whose rules run (and write) already
        self.last_delivery_wait = 0.0

    # ------------------------------------------------------------ up and down

    def start(self) -> None:
        self.redis_server.start()
        if self.postgres is not None:
            self.postgres.start()
            url = self.postgres.url
        else:
            url = database_url(self.database, self.workdir)
        self.stack = Stack(
            web_port=free_port(),
            sandbox_port=free_port(),
            database_url=url,
            redis_url=self.redis_server.url,
            workdir=self.workdir / "stack",
            sandbox_size=self.size,
        )
        self.stack.start()
        self.browser, self.orgs = connect_all(self.stack)
        self.settle_all(time.time(), limit=120)

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        self.redis_server.stop()
        if self.postgres is not None:
            self.postgres.stop()

    @property
    def redis(self) -> Redis:
        return Redis.from_url(self.redis_server.url)

    # ------------------------------------------------------------ the worker

    def worker_command(self) -> list[str]:
        assert self.stack is not None
        return [
            str(VENV_BIN / "rq"), "worker", *WORKER_ARGS, "--url", self.stack.redis_url,
            "--with-scheduler", *WORKER_QUEUES,
        ]  # fmt: skip

    def kill_worker(self) -> None:
        """`kill -9` of the worker, its work horse and its scheduler."""
        assert self.stack is not None
        process = self.stack.processes["worker"]
        for pid in [process.pid, *descendants(process.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()

    def start_worker(self) -> None:
        """What a process supervisor does: a new worker in place of the dead one."""
        assert self.stack is not None
        log = open(self.stack.workdir / "worker.log", "ab")  # noqa: SIM115 - closed by stop()
        self.stack.logs.append(log)
        self.stack.processes["worker"] = subprocess.Popen(
            self.worker_command(), cwd=Path(__file__).resolve().parent.parent,
            env=self.stack.env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def revive(self) -> list[str]:
        """Restart whatever died (as the supervisor would); names what had to be restarted."""
        assert self.stack is not None
        dead = [n for n, p in self.stack.processes.items() if p.poll() is not None]
        if "worker" in dead:
            self.start_worker()
        if set(dead) - {"worker"}:
            raise SystemExit(f"{sorted(set(dead) - {'worker'})} stopped; see {self.workdir}")
        return dead

    # ------------------------------------------------------------ syncs

    def synced_at(self) -> dict[int, float]:
        assert self.stack is not None
        engine = make_engine(self.stack.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT id, last_synced_at FROM organization")).all()
        finally:
            engine.dispose()
        return {int(i): _epoch(at) for i, at in rows}

    def request_sync(self, org: Org) -> None:
        enqueue_once(
            self.redis, SYNC, "sync.jobs.sync_organization", org.id, job_id=sync_job_id(org.id)
        )

    def restart_backfill(self, org: Org) -> None:
        """Forget how far the mirror is complete, so the next sync reads everything again."""
        assert self.stack is not None
        engine = make_engine(self.stack.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text("DELETE FROM sync_cursor WHERE organization_id = :o"), {"o": org.id}
                )
        finally:
            engine.dispose()
        self.request_sync(org)

    def settle_all(self, since: float, limit: float = RECOVERY_LIMIT) -> tuple[float, list[int]]:
        """Request a sync of every organization (retrying while Redis or the database is still
        coming back) and wait until each finished one after `since`; returns the seconds from
        `since` until then and the organizations that did not within `limit`."""
        deadline = since + limit
        requested = False
        while time.time() < deadline:
            try:
                if not requested:
                    for org in self.orgs:
                        self.request_sync(org)
                    requested = True
                done = self.synced_at()
            except Exception:  # noqa: BLE001 - Redis or the database is still down
                time.sleep(0.5)
                continue
            if all(done.get(o.id, 0) > since for o in self.orgs):
                return max(done[o.id] for o in self.orgs) - since, []
            self.revive()
            time.sleep(0.5)
        done = self.synced_at()
        return limit, [o.id for o in self.orgs if done.get(o.id, 0) <= since]

    # ------------------------------------------------------------ checks

    def pay_one_each(self) -> None:
        """A change for the mirror to carry: one invoice paid in one company per provider."""
        assert self.stack is not None and self.browser is not None
        for provider in ("quickbooks", "xero"):
            org = next(o for o in self.orgs if o.provider == provider)
            make_sandbox_payment(self.stack, provider, self.browser.summary(org.id))

    def mismatches(self) -> list[str]:
        assert self.stack is not None and self.browser is not None
        found = []
        for org in self.orgs:
            summary = self.browser.summary(org.id)
            mirror = open_balances(summary)
            sandbox = sandbox_open_balances(self.stack, org.provider, summary["name"])
            if mirror != sandbox:
                found.append(f"{org.provider}:{org.id} mirror {mirror} sandbox {sandbox}")
        return found

    def wait_mirrored(self, limit: float = RECOVERY_LIMIT) -> list[str]:
        """The mirror catches up with webhooks and syncs; what still differs after `limit`."""
        deadline = time.time() + limit
        while True:
            found = self.mismatches()
            if not found or time.time() > deadline:
                return found
            for org in self.orgs:
                self.request_sync(org)
            time.sleep(1)

    def duplicates(self) -> int:
        assert self.stack is not None
        base = self.stack.sandbox_url
        writes = requests.get(f"{base}/_sandbox/writes", timeout=10).json()["writes"]
        keys = Counter(
            w["idempotency_key"] for w in writes if w["applied"] and w["idempotency_key"]
        )
        mail = requests.get(f"{base}/_sandbox/mail", timeout=10).json()["messages"]
        ids = Counter(m["message_id"] for m in mail)
        return sum(n - 1 for n in keys.values() if n > 1) + sum(
            n - 1 for n in ids.values() if n > 1
        )

    def writes_seen(self) -> int:
        """Emails in the sandbox's mailbox plus writes applied to its ledgers."""
        assert self.stack is not None
        base = self.stack.sandbox_url
        writes = requests.get(f"{base}/_sandbox/writes", timeout=10).json()["writes"]
        mail = requests.get(f"{base}/_sandbox/mail", timeout=10).json()["messages"]
        return len(mail) + sum(1 for w in writes if w["applied"])

    def undelivered(self, limit: float = WRITE_LIMIT) -> list[str]:
        """Once the outbox of every organisation with rules has nothing due left: the actions
        it says it sent that the sandbox never received (or that are still due at `limit`).

        A write cut short by a dead worker is resumed when its lease runs out (outbox.perform:
        two minutes, so that a slow write is never sent twice), hence the longer limit."""
        started = time.time()
        assert self.stack is not None and self.browser is not None
        browser = self.browser
        deadline = time.time() + limit
        while True:
            due = [
                f"{org.id}: {a['kind']} {a['key']} {status} for {a['scheduled_for']}"
                for org in self.rules_on
                for status in ("planned", "pending")
                for a in _actions(browser, org.id, status)
                if datetime.fromisoformat(a["scheduled_for"]).timestamp() <= time.time() + 60
            ]
            if not due:
                self.last_delivery_wait = time.time() - started
                break
            if time.time() > deadline:
                return [f"still due at {datetime.now(UTC):%H:%M:%S}: {d}" for d in due]
            self.revive()
            time.sleep(1)
        base = self.stack.sandbox_url
        writes = requests.get(f"{base}/_sandbox/writes", timeout=10).json()["writes"]
        applied = [w["idempotency_key"] for w in writes if w["applied"] and w["idempotency_key"]]
        mail = requests.get(f"{base}/_sandbox/mail", timeout=10).json()["messages"]
        mailed = {m["message_id"].strip("<>").split("@")[0] for m in mail}
        missing = []
        for org in self.rules_on:
            for action in _actions(browser, org.id, "sent"):
                key = action["key"]
                found = (
                    key in mailed
                    if action["kind"] == "reminder"
                    else any(k.startswith(key) for k in applied)
                )
                if not found:
                    missing.append(
                        f"{org.provider}:{org.id} sent {action['kind']} {key} is not in the sandbox"
                    )
        return missing

    def faults(self, **spec: object) -> None:
        assert self.stack is not None
        response = requests.post(f"{self.stack.sandbox_url}/_sandbox/faults", json=spec, timeout=10)
        response.raise_for_status()

    def faults_served(self) -> int:
        """How many requests the armed storm faults answered so far."""
        assert self.stack is not None
        armed = requests.get(f"{self.stack.sandbox_url}/_sandbox/faults", timeout=10).json()
        return sum(STORM_COUNT - a["count"] for a in armed["armed"])

    def clear_faults(self) -> None:
        assert self.stack is not None
        requests.delete(f"{self.stack.sandbox_url}/_sandbox/faults", timeout=10).raise_for_status()

    def run(self, name: str, inject: Callable[[Rig], str]) -> Outcome:
        """One trial: the fault (`inject` returns a note and ends it), then the checks."""
        note = inject(self)
        ended = time.time()
        recovery, stalled = self.settle_all(ended)
        self.last_delivery_wait = 0.0
        mismatched = self.wait_mirrored() + self.undelivered()
        if self.last_delivery_wait > 1:
            note += f"; every due write-back done {self.last_delivery_wait:.0f}s later"
        return Outcome(
            trial=name,
            recovery=recovery,
            stalled=stalled,
            mismatched=mismatched,
            duplicates=self.duplicates(),
            note=note,
        )


def _extra(counts: Counter[str]) -> int:
    return sum(n - 1 for n in counts.values() if n > 1)


def _epoch(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not come up within {timeout:.0f}s")


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# ---------------------------------------------------------------- the trials


def kill_mid_sync(rig: Rig) -> str:
    """kill -9 of the worker while it backfills an organization (its provider slowed down a
    little, so the kill lands mid-backfill even on a small sandbox); a new worker starts."""
    org = rig.orgs[0]
    rig.faults(provider=org.provider, kind="slow", seconds=0.5, count=6, tenant=org.external_id)
    rig.restart_backfill(org)
    _wait(lambda: is_held(rig.redis, sync_job_id(org.id)), 30, "the backfill")
    time.sleep(0.5)
    rig.pay_one_each()
    rig.kill_worker()
    held = is_held(rig.redis, sync_job_id(org.id))  # the dead holder's lock, until its TTL
    rig.clear_faults()
    rig.start_worker()
    when = "mid-backfill" if held else "after the backfill (it was too quick)"
    return f"killed {when} of organization {org.id}"


def kill_mid_write(rig: Rig) -> str:
    """kill -9 of the worker while it writes back: the demo's rules switched on for one more
    organisation, a sample of its first run approved, the worker killed as soon as the first
    email or ledger write reaches the sandbox; a new worker starts. Each organisation can take
    this once (its first run is what gets approved)."""
    assert rig.stack is not None and rig.browser is not None
    org = next((o for o in rig.orgs if o not in rig.rules_on), None)
    if org is None:
        return "skipped: every organisation's rules already ran"
    browser = rig.browser
    document = demo_rules(browser.api("GET", org.id, "rules/starter"))
    browser.api("POST", org.id, "rules/versions", {"document": document, "activate": True})
    rig.rules_on.append(org)
    browser.api("POST", org.id, "evaluate")
    before = rig.writes_seen()
    approved = approve_a_sample(browser, rig.stack, org.id, RECOVERY_LIMIT * 2)
    total = sum(approved["approved"].values())
    _wait(lambda: rig.writes_seen() > before, RECOVERY_LIMIT, "the first write-back")
    rig.pay_one_each()
    rig.kill_worker()
    done = rig.writes_seen() - before
    rig.start_worker()
    return f"killed after {done} of {total} approved write-backs of organisation {org.id}"


def redis_restart(rig: Rig) -> str:
    """Redis goes away for a moment (SIGTERM, start again) while syncs are queued."""
    rig.pay_one_each()
    for org in rig.orgs:
        rig.restart_backfill(org)
    rig.redis_server.restart()
    restarted = rig.revive()
    return f"restarted by the supervisor: {restarted}" if restarted else "no process died"


def postgres_restart(rig: Rig) -> str:
    if rig.postgres is None:
        return "skipped: needs --database private"
    rig.pay_one_each()
    for org in rig.orgs:
        rig.restart_backfill(org)
    rig.postgres.restart()
    restarted = rig.revive()
    return f"restarted by the supervisor: {restarted}" if restarted else "no process died"


def _storm(rig: Rig, kind: str, share: float, seconds: float, **extra: object) -> str:
    for provider in ("quickbooks", "xero"):
        rig.faults(provider=provider, kind=kind, count=STORM_COUNT, share=share, **extra)
    rig.pay_one_each()
    ends = time.time() + seconds
    while time.time() < ends:  # backfills again and again, so the storm meets many requests
        for org in rig.orgs:
            if not is_held(rig.redis, sync_job_id(org.id)):
                rig.restart_backfill(org)
        time.sleep(1)
    served = rig.faults_served()
    rig.clear_faults()
    return f"{share:.0%} of provider requests answered {kind} for {seconds:.0f}s ({served} did)"


def server_error_storm(rig: Rig, seconds: float = 15) -> str:
    return _storm(rig, "server_error", 0.3, seconds)


def rate_limit_storm(rig: Rig, seconds: float = 15) -> str:
    return _storm(rig, "rate_limit", 0.5, seconds, retry_after=1)


def _refresh(args: tuple[dict[str, str], int, str, threading.Barrier]) -> str:
    env, grant_id, provider, barrier = args
    os.environ.update(env)
    from core.db import make_session_factory
    from core.settings import Settings
    from sync.clients import credentials_for

    settings = Settings.from_env()
    sessions = make_session_factory(make_engine(settings.database_url))
    credentials = credentials_for(
        grant_id, settings, provider, sessions, Redis.from_url(settings.redis_url)
    )
    rejected = str(credentials.token()["access_token"])
    barrier.wait()
    return credentials.refreshed(rejected)


def token_race(rig: Rig, workers: int = 20) -> str:
    """20 processes find the same access token refused at once and refresh it: one refresh
    happens, all of them end up with the same fresh token, and the grant stays alive."""
    assert rig.stack is not None
    org = next(o for o in rig.orgs if o.provider == "xero")  # Xero rotates on every refresh
    engine = make_engine(rig.stack.database_url)
    with engine.connect() as conn:
        grant_id = conn.execute(
            sa.text("SELECT grant_id FROM organization WHERE id = :o"), {"o": org.id}
        ).scalar_one()
    engine.dispose()
    env = rig.stack.env()
    with multiprocessing.Manager() as manager:
        barrier = manager.Barrier(workers)
        with multiprocessing.Pool(workers) as pool:
            tokens = pool.map(_refresh, [(env, grant_id, org.provider, barrier)] * workers)
    rig.pay_one_each()
    distinct = len(set(tokens))
    if distinct != 1:
        raise AssertionError(f"{workers} refreshes left {distinct} different tokens")
    return f"{workers} processes refreshed grant {grant_id}: one token"


TRIALS: dict[str, Callable[[Rig], str]] = {
    "kill-mid-sync": kill_mid_sync,  # kill -9 of the worker mid-backfill
    "kill-mid-write": kill_mid_write,  # kill -9 of the worker mid write-back
    "redis-restart": redis_restart,
    "postgres-restart": postgres_restart,
    "5xx-storm": server_error_storm,  # 30% of provider requests answered 503
    "429-storm": rate_limit_storm,
    "token-race": token_race,  # 20 processes refreshing one rotating token
}
