"""A worker killed mid-sync (issue 8, item 4): `kill -9` of a real RQ worker and its work horse
in the middle of a backfill. The lock it held expires within seconds, RQ finds the dead job and
runs it again on a new worker, and the other queues never wait for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus

from core.locks import is_held
from core.queues import sync_job_id
from core.worker import WORKER_ARGS
from sync.jobs import request_sync
from tests.connect import connect_org
from tests.sync.test_jobs import clear_faults  # noqa: F401 - autouse fixture
from tests.sync.test_jobs import ctx  # noqa: F401 - fixture
from tests.sync.test_jobs import dunwell_env_for
from tests.sync.test_jobs import open_balance
from tests.sync.test_jobs import org
from tests.sync.test_jobs import sandbox  # noqa: F401 - fixture
from tests.sync.test_jobs import sandbox_open

pytestmark = pytest.mark.e2e


def start_worker(ctx, database_url: str, redis_url: str, log) -> subprocess.Popen:  # noqa: F811
    env = dict(os.environ)
    env.update(dunwell_env_for(ctx, database_url))
    command = [sys.executable, "-m", "rq.cli", "worker", *WORKER_ARGS, "--with-scheduler"]
    return subprocess.Popen(
        [*command, "--url", redis_url, "sync", "rules"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_tree(pid: int) -> None:
    """`kill -9` of the worker and everything under it: RQ's work horse and scheduler run in
    process groups of their own, so killing the worker's group alone would spare them."""
    victims = [pid, *descendants(pid)]
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass


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


def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.25)
    return time.monotonic() - started


def test_a_killed_worker_stalls_nothing(ctx, sandbox, database_url, redis_url, tmp_path):  # noqa: F811
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    body = {"provider": "quickbooks", "kind": "slow", "count": 4, "seconds": 2}
    requests.post(f"{sandbox}/_sandbox/faults", json=body, timeout=10).raise_for_status()
    request_sync(ctx, org_id)
    workers: list[subprocess.Popen] = []
    log = open(tmp_path / "workers.log", "ab")  # noqa: SIM115 - closed below
    try:
        first = start_worker(ctx, database_url, redis_url, log)
        workers.append(first)
        wait_for(lambda: is_held(ctx.redis, sync_job_id(org_id)), 30, "the sync starting")
        time.sleep(1.0)  # mid-backfill: the sandbox answers slowly
        kill_tree(first.pid)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        assert org(ctx, org_id).last_synced_at is None  # it really died mid-sync

        workers.append(start_worker(ctx, database_url, redis_url, log))
        # A webhook meanwhile queues a follow-up sync; it finds the dead run's lock and steps
        # aside instead of holding the worker, so a rules job behind it runs at once.
        assert request_sync(ctx, org_id) == "follow-up"
        Queue("rules", connection=ctx.redis).enqueue(
            "rules.jobs.evaluate_organization", org_id, job_id="probe", result_ttl=300
        )
        probe_done = lambda: job_status("probe", ctx) == JobStatus.FINISHED  # noqa: E731
        wait_for(probe_done, 15, "a rules job behind the dead sync")
        assert org(ctx, org_id).last_synced_at is None  # the rules job did not wait for it

        synced = lambda: org(ctx, org_id).last_synced_at is not None  # noqa: E731
        wait_for(synced, 60, "the sync finishing on the new worker")
        recovery = time.monotonic() - killed_at
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        log.close()
    print(f"recovered {recovery:.1f}s after the kill")
    print((tmp_path / "workers.log").read_text()[-6000:])
    assert recovery < 45, f"{recovery:.0f}s\n" + (tmp_path / "workers.log").read_text()[-4000:]
    assert open_balance(ctx, org_id) == sandbox_open(sandbox)
    assert Queue("sync", connection=ctx.redis).failed_job_registry.count == 0


def job_status(job_id: str, ctx) -> JobStatus | None:  # noqa: F811
    try:
        return Job.fetch(job_id, connection=ctx.redis).get_status()
    except NoSuchJobError:
        return None
