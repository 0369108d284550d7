"""The RQ worker Dunwell runs (`rq worker -w core.worker.Worker`, see the Procfile).

RQ declares a job abandoned when its execution's heartbeat lapses: `job_monitoring_interval`
plus a fixed 60 seconds after the last beat, and only its next maintenance pass (every 10
minutes by default) acts on it. With a worker killed mid-sync that is minutes of nothing. This
worker keeps RQ's handling and shortens the grace to 15 seconds; with the Procfile's
`--job-monitoring-interval 5 --maintenance-interval 5 --worker-ttl 20` (an idle worker wakes
every 5 seconds) a dead job is found 20 to 30 seconds after its worker died, and re-run at once
(sync.jobs.SYNC_RETRY's first interval is 0, core.queues.rerun_if_abandoned enqueues
directly: neither waits for RQ's scheduler, whose lock a dead worker may hold for a minute).
"""

from __future__ import annotations

import gc
import importlib
from typing import Any

from rq.job import Job
from rq.worker import Worker as RQWorker
from sqlalchemy.orm import configure_mappers

from core.context import job_context

HEARTBEAT_GRACE_SECONDS = 15

# The flags the Procfile and the demo pass to `rq worker`.
WORKER_ARGS = (
    "-w", "core.worker.Worker",
    "--job-monitoring-interval", "5",
    "--maintenance-interval", "5",
    "--worker-ttl", "20",
)  # fmt: skip


# The modules of every job, imported once in the worker's own process so that each work-horse
# it forks starts with them loaded (SQLAlchemy, the models, the providers, the rules): without
# this every job spent most of a second importing before it did anything.
JOB_MODULES = ("sync.jobs", "rules.jobs", "outbox.jobs", "outbox.channels")


def _build_job_context() -> None:
    """Build the jobs' process-wide context here, so that each forked work-horse inherits it.

    Building it reads the settings, imports the database driver and every provider's config
    module and makes the engine (no connection is opened: the pool connects on first use, in
    the work-horse). Left to the work-horse, that cost a third to half a second of every job,
    most of a tiny organization's evaluation. A worker whose settings are wrong still starts;
    each job then reports why.

    The ORM's mappers are configured here too, and each job module may prepare more for its
    jobs (`prepare_worker(context)`, e.g. compiled statements): a work-horse configured the
    mappers on its first query, 50 ms of a one-customer evaluation.
    """
    try:
        context = job_context()
        configure_mappers()
        for name in JOB_MODULES:
            prepare = getattr(importlib.import_module(name), "prepare_worker", None)
            if prepare is not None:
                prepare(context)
    except Exception:  # noqa: BLE001 - the job that needs it meets the error again and reports it
        return
    freeze_heap()


def freeze_heap() -> None:
    """Put every object made so far out of the garbage collector's reach (gc.freeze).

    The modules, mappers, compiled statements and the context live as long as the worker, yet
    each full collection in a job walked them all: a fifth of a first run's CPU in
    bench/evaluate.py. Frozen before the fork, they also stay on pages the work-horses share
    with the worker, where the collector's writes to them made copies.
    """
    gc.freeze()


class Worker(RQWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in JOB_MODULES:
            importlib.import_module(name)
        _build_job_context()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """RQ's own computation with HEARTBEAT_GRACE_SECONDS instead of its fixed 60 (see the
        module doc)."""
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - working_time, interval)
        return int(interval) + HEARTBEAT_GRACE_SECONDS
