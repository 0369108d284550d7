"""What a background job needs: settings, a session factory and Redis, built once per process.

Jobs take ids and build their context from the environment; tests build one directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from redis import Redis
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.db import make_engine
from core.db import make_session_factory
from core.settings import Settings


@dataclass(frozen=True)
class JobContext:
    """`redis` is None where there is no queue: an evaluation run in-process by a test or a
    benchmark, which then does inline what it would otherwise queue (or skips it)."""

    settings: Settings
    sessions: sessionmaker[Session]
    redis: Redis | None

    @classmethod
    def from_settings(cls, settings: Settings) -> JobContext:
        return cls(
            settings=settings,
            sessions=make_session_factory(make_engine(settings.database_url)),
            redis=Redis.from_url(settings.redis_url),
        )

    def queue_redis(self) -> Redis:
        """`redis`, for a job that cannot run without a queue (a sync: its lock, its re-runs)."""
        if self.redis is None:
            raise RuntimeError("this job needs Redis: build its JobContext with one")
        return self.redis


@cache
def job_context() -> JobContext:
    """The process-wide context of an RQ worker, from the environment."""
    return JobContext.from_settings(Settings.from_env())
