"""An RQ worker forks a work-horse per job; what the job needs before it can start must be made
once in the worker, or every job pays for it again (tiny organizations' evaluations were mostly
that: importing the database driver and the providers, reading settings, making the engine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PG_URL
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from redis import Redis
from core.context import job_context
from core.worker import Worker

Worker(["rules"], connection=Redis.from_url(sys.argv[1]))
before = set(sys.modules)
job_context()
print(job_context.cache_info().hits, sorted(set(sys.modules) - before))
"""


def run_fresh(script: str) -> tuple[str, str]:
    """The first line `script` prints, run in a fresh interpreter as a worker process starts,
    and all it printed (for the assertion's message)."""
    env = {
        **os.environ,
        "DATABASE_URL": PG_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "test-secret-key-0123456789",
        "TOKEN_ENCRYPTION_KEY": "unused",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, REDIS_URL],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.split("\n")[0], done.stdout + done.stderr


def test_the_worker_builds_the_job_context_its_work_horses_inherit() -> None:
    first, output = run_fresh(SCRIPT)
    assert first == "1 []", output


PREPARED = """
import sys
from redis import Redis
from core.context import job_context
from core.models import Organization
from core.worker import Worker
from rules.load import queries
from rules.load.reads import _compiled
from rules.ruleset.store import org_run_statement

Worker(["rules"], connection=Redis.from_url(sys.argv[1]))
dialect = job_context().sessions.kw["bind"].dialect
before = _compiled.cache_info().hits
for stmt in (org_run_statement(), queries.customers(True), queries.firings(False)):
    _compiled(stmt, dialect)
print(Organization.__mapper__.configured, _compiled.cache_info().hits - before)
"""


def test_the_worker_prepares_what_every_evaluation_needs() -> None:
    """Mappers configured and the loader's statements compiled before any work-horse forks
    (each one started with neither, and spent a tenth of a second making them)."""
    first, output = run_fresh(PREPARED)
    assert first == "True 3", output


FROZEN = """
import gc
import sys
from redis import Redis
from core.worker import Worker

Worker(["rules"], connection=Redis.from_url(sys.argv[1]))
print(gc.get_freeze_count() > 10_000, len(gc.get_objects()) < 1_000)
"""


def test_the_worker_freezes_what_it_made_before_forking() -> None:
    """The objects made at start-up are out of the garbage collector's reach: full collections
    in a job no longer walk the whole worker's heap."""
    first, output = run_fresh(FROZEN)
    assert first == "True True", output
