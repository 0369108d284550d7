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

import importlib
import os
from typing import Any

from rq.job import Job
from rq.worker import Worker as RQWorker

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


class Worker(RQWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in JOB_MODULES:
            importlib.import_module(name)
        _prepare_job_context()

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """RQ's own computation with HEARTBEAT_GRACE_SECONDS instead of its fixed 60 (see the
        module doc)."""
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(job.timeout - working_time, interval)
        return int(interval) + HEARTBEAT_GRACE_SECONDS


def _prepare_job_context() -> None:
    """Build the jobs' context (core.context.job_context: the settings, with the provider
    modules they import, the engine and its dialect) once in the worker, so that every
    work-horse it forks inherits it instead of spending ~0.15 s building it per job. The engine
    has connected once to learn its dialect; its pool is emptied before any fork and a child
    drops (never closes) what it inherited, so no two processes share a database connection."""
    from core.context import job_context

    engine = job_context().sessions.kw["bind"]
    with engine.connect():
        pass
    engine.dispose()
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
