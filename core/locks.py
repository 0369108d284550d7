"""Redis locks that outlive a crash by seconds, not half an hour.

A lock's key expires `LOCK_TTL_SECONDS` after its last renewal; while the holder lives, a
heartbeat thread renews it every `RENEW_EVERY_SECONDS`. A worker killed with `kill -9` stops
renewing, so the next job gets the lock within the TTL. The key's existence is the holder's
heartbeat: the admin page reads it to tell a sync that runs from one that died (`is_held`).
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from redis import Redis
from redis.exceptions import LockError
from redis.exceptions import RedisError
from redis.lock import Lock

log = logging.getLogger(__name__)

LOCK_TTL_SECONDS = 15  # below core.worker's abandoned-job grace, so a re-run finds it free
RENEW_EVERY_SECONDS = 5
KEY = "dunwell:lock:{name}"


class LockHeld(Exception):
    """Someone else holds the lock (and did not let go within the wait)."""


class HeartbeatLock:
    """`with HeartbeatLock(...)` waits up to `wait` seconds, then raises LockHeld."""

    def __init__(self, redis: Redis, name: str, wait: float, ttl: int = LOCK_TTL_SECONDS):
        self.name = name
        self.wait = wait
        self.ttl = ttl
        # Not thread-local: the heartbeat thread renews with the token the holder took.
        self._lock: Lock = redis.lock(KEY.format(name=name), timeout=ttl, thread_local=False)
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def acquire(self) -> bool:
        """Take the lock (waiting up to `wait` seconds); False if someone else keeps it."""
        blocking = self.wait > 0
        taken = self._lock.acquire(blocking=blocking, blocking_timeout=self.wait or None)
        if taken:
            self._stop.clear()
            self._beat = threading.Thread(
                target=self._renew, name=f"lock-heartbeat:{self.name}", daemon=True
            )
            self._beat.start()
        return bool(taken)

    def release(self) -> None:
        """Stop the heartbeat, then release; a lock that expired meanwhile is only logged, since
        whoever holds it now must not lose it."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
            self._beat = None
        try:
            self._lock.release()
        except LockError:
            log.warning("lock %s had already expired when released", self.name)

    def _renew(self) -> None:
        while not self._stop.wait(min(RENEW_EVERY_SECONDS, self.ttl / 3)):
            try:
                self._lock.extend(self.ttl, replace_ttl=True)
            except LockError:
                log.error("lock %s was lost (not renewed in %s s)", self.name, self.ttl)
                return
            except RedisError as exc:
                log.warning("lock %s not renewed this time: %s", self.name, exc)

    def __enter__(self) -> HeartbeatLock:
        if not self.acquire():
            raise LockHeld(f"{self.name} is held by another job")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def is_held(redis: Redis, name: str) -> bool:
    """Does a live holder have `name` (renewed within the TTL)?"""
    return bool(redis.exists(KEY.format(name=name)))
