"""Provider rate limits shared by every process, kept in Redis.

`RedisLimiter` implements the Limiter protocol of providers.base without importing it: a limit is
any object with `key`, `per_minute`, `per_day` and `in_flight` attributes (None = no limit).

Per limit key, Redis holds:
- `<prefix>:<key>:minute` and `:day`: sliding windows, sorted sets of call start times (ms);
- `<prefix>:<key>:inflight`: running calls, a sorted set scored by lease expiry, so a worker that
  dies inside a call frees its slot when the lease runs out; each member names its host and
  process, so a caller kept waiting frees at once the slots of processes of its own host that
  no longer exist (a worker killed mid-write, whose delivery lanes each held one);
- `<prefix>:<key>:blocked`: "wait until" (ms) set by `observe` when the provider says so.
One Lua script checks every limit and takes the slot in all of them at once, using Redis' clock,
so processes on different machines agree. `slot()` sleeps until the script says yes; when the
wait would pass `max_wait` it raises LimitWaitExceeded (with `retry_after`) instead.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis as redis_lib

log = logging.getLogger(__name__)

HOST = socket.gethostname()
MINUTE_MS = 60_000
DAY_MS = 86_400_000

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, lease, poll, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait = 0
local function window(key, limit, span)
  if limit <= 0 then return end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + span - now + 1)
  end
end
for i = 0, n - 1 do
  local k, a = i * 4, 5 + i * 3
  local blocked = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
  if blocked > now then wait = math.max(wait, blocked - now) end
  window(KEYS[k + 1], tonumber(ARGV[a]), 60000)
  window(KEYS[k + 2], tonumber(ARGV[a + 1]), 86400000)
  local in_flight = tonumber(ARGV[a + 2])
  if in_flight > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 3]) >= in_flight then
      local soonest = redis.call('ZRANGE', KEYS[k + 3], 0, 0, 'WITHSCORES')
      wait = math.max(wait, math.max(1, math.min(tonumber(soonest[2]) - now, poll)))
    end
  end
end
if wait > 0 then return wait end
for i = 0, n - 1 do
  local k, a = i * 4, 5 + i * 3
  if tonumber(ARGV[a]) > 0 then
    redis.call('ZADD', KEYS[k + 1], now, token)
    redis.call('PEXPIRE', KEYS[k + 1], 60000 + 1000)
  end
  if tonumber(ARGV[a + 1]) > 0 then
    redis.call('ZADD', KEYS[k + 2], now, token)
    redis.call('PEXPIRE', KEYS[k + 2], 86400000 + 1000)
  end
  if tonumber(ARGV[a + 2]) > 0 then
    redis.call('ZADD', KEYS[k + 3], now + lease, token)
    redis.call('PEXPIRE', KEYS[k + 3], lease + 1000)
  end
end
return 0
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + span > current then redis.call('SET', KEYS[1], now + span, 'PX', span) end
return now + span
"""


class LimitWaitExceeded(Exception):
    """A call slot would not free up within the limiter's `max_wait`.

    `retry_after` (seconds) is when trying again makes sense; providers turn it into their own
    RateLimited error.
    """

    def __init__(self, key: str, retry_after: float):
        super().__init__(f"rate limit {key!r}: no call slot within the wait allowed")
        self.key = key
        self.retry_after = retry_after


class RedisLimiter:
    """Limits shared across processes and machines through one Redis."""

    def __init__(
        self,
        redis: redis_lib.Redis,
        prefix: str = "dunwell:limit",
        *,
        max_wait: float = 30.0,
        lease_seconds: float = 120.0,
        poll_seconds: float = 0.05,
        empty_block_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_wait = max_wait
        self.lease_ms = int(lease_seconds * 1000)
        self.poll_ms = max(1, int(poll_seconds * 1000))
        self.empty_block_seconds = empty_block_seconds
        self.sleep = sleep
        self._acquire = redis.register_script(_ACQUIRE)
        self._block = redis.register_script(_BLOCK)

    @contextmanager
    def slot(self, limits: tuple[Any, ...]) -> Iterator[None]:
        """Block until a call under every one of `limits` may start; free it on exit."""
        token = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex}"
        self._wait_for_slot(limits, token)
        try:
            yield
        finally:
            self._release(limits, token)

    def observe(self, limit: Any, remaining: int | None, retry_after: float | None) -> None:
        """Make later calls under `limit` wait when the provider asked for it.

        `retry_after` blocks the key for that long. `remaining == 0` alone blocks it for
        `empty_block_seconds` (the provider did not say for how long).
        """
        seconds = retry_after if retry_after else None
        if seconds is None and remaining == 0:
            seconds = self.empty_block_seconds
        if not seconds or seconds <= 0:
            return
        self._block(keys=[self._key(limit, "blocked")], args=[max(1, int(seconds * 1000))])

    def _wait_for_slot(self, limits: tuple[Any, ...], token: str) -> None:
        deadline = time.monotonic() + self.max_wait
        keys, args = self._script_input(limits, token)
        while True:
            wait_ms = int(self._acquire(keys=keys, args=args))
            if wait_ms <= 0:
                return
            if self._free_slots_of_the_dead(limits):
                continue
            wait = wait_ms / 1000
            if time.monotonic() + wait > deadline:
                raise LimitWaitExceeded(_names(limits), retry_after=wait)
            self.sleep(wait)

    def _free_slots_of_the_dead(self, limits: tuple[Any, ...]) -> int:
        """Free the call slots held by processes of this host that have died; how many."""
        freed = 0
        for limit in limits:
            if not _count(limit, "in_flight"):
                continue
            key = self._key(limit, "inflight")
            members: list[bytes] = self.redis.zrange(key, 0, -1)  # type: ignore[assignment]  # redis-py types every reply loosely
            dead = [m for m in members if _holder_is_dead(m)]
            if dead:
                freed += int(self.redis.zrem(key, *dead))
        if freed:
            log.warning("freed %d call slot(s) of %s held by dead processes", freed, _names(limits))
        return freed

    def _script_input(self, limits: tuple[Any, ...], token: str) -> tuple[list[str], list[Any]]:
        keys: list[str] = []
        args: list[Any] = [token, self.lease_ms, self.poll_ms, len(limits)]
        for limit in limits:
            keys += [self._key(limit, part) for part in ("minute", "day", "inflight", "blocked")]
            args += [_count(limit, name) for name in ("per_minute", "per_day", "in_flight")]
        return keys, args

    def _release(self, limits: tuple[Any, ...], token: str) -> None:
        try:
            for limit in limits:
                if _count(limit, "in_flight"):
                    self.redis.zrem(self._key(limit, "inflight"), token)
        except redis_lib.RedisError:
            # The lease expires by itself; better than hiding the caller's own exception.
            log.warning("Could not free a call slot for %s; its lease will expire", _names(limits))

    def _key(self, limit: Any, part: str) -> str:
        return f"{self.prefix}:{limit.key}:{part}"


def _holder_is_dead(member: bytes | str) -> bool:
    """Whether a slot's holder ("host:pid:token") was a process of this host that is gone."""
    text = member.decode() if isinstance(member, bytes) else member
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def _count(limit: Any, name: str) -> int:
    value = getattr(limit, name, None)
    return int(value) if value else 0


def _names(limits: tuple[Any, ...]) -> str:
    return ", ".join(str(limit.key) for limit in limits)
