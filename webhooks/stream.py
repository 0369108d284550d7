"""The Redis Stream a webhook request appends its verified body to, and the drain reads.

One entry per validly signed delivery: the provider, the raw body and when it arrived. The
drain reads entries through a consumer group (XREADGROUP), so an entry it read stays pending
until it is acknowledged; it is acknowledged and deleted (XACK, XDEL) only after its inbox rows
are committed. Entries a drain read and never acknowledged (its worker died) are taken over by
a later drain once they have been idle for a while (XAUTOCLAIM).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError
from rq.job import Job

STREAM = "dunwell:webhooks"
GROUP = "inbox"
CONSUMER = "drain"  # one name for every drain: a dead one's entries are claimed by idle time


@dataclass(frozen=True)
class Entry:
    id: bytes
    provider: str
    body: bytes
    received_at: datetime


# KEYS: the stream, then the drain job's two hashes (its id and its follow-up's).
# ARGV: the entry's fields. Returns 1 when a drain job is already waiting (it will read this
# entry when it starts), else 0: the caller then asks for one (core.queues.enqueue_once).
_APPEND_LUA = """
redis.call("XADD", KEYS[1], "*", unpack(ARGV))
for i = 2, 3 do
  local status = redis.call("HGET", KEYS[i], "status")
  if status == "queued" or status == "scheduled" or status == "deferred" then return 1 end
end
return 0
"""


def append(redis: Redis, provider: str, body: bytes, drain_job_id: str) -> bool:
    """Add a delivery to the stream in one round trip; True if a drain is already waiting."""
    keys = [STREAM, Job.key_for(drain_job_id), Job.key_for(f"{drain_job_id}-next")]
    fields = ["provider", provider, "body", body, "at", datetime.now(UTC).isoformat()]
    return bool(_script(redis, "_dunwell_append", _APPEND_LUA)(keys=keys, args=fields))


def ensure_group(redis: Redis) -> None:
    """The consumer group, reading from the stream's start (entries added before it existed
    are read too); made with the stream if need be."""
    try:
        redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_new(redis: Redis, count: int) -> list[Entry]:
    """Up to `count` entries no drain has read yet; they stay pending until `ack`."""
    answer: Any = redis.xreadgroup(GROUP, CONSUMER, {STREAM: ">"}, count=count)
    return [_entry(id_, fields) for _, messages in answer or [] for id_, fields in messages]


def claim_stale(redis: Redis, idle_ms: int, count: int) -> list[Entry]:
    """Up to `count` entries read by a drain that has not acknowledged them for `idle_ms`."""
    start: Any = "0-0"
    found: list[Entry] = []
    while len(found) < count:
        answer: Any = redis.xautoclaim(
            STREAM, GROUP, CONSUMER, idle_ms, start_id=start, count=count - len(found)
        )
        found += [_entry(id_, fields) for id_, fields in answer[1] if fields]
        start = answer[0]
        if start in (b"0-0", "0-0"):
            break
    return found


def ack(redis: Redis, entries: list[Entry]) -> None:
    """Done with these entries: acknowledged and deleted, in one round trip."""
    if not entries:
        return
    ids = [e.id for e in entries]
    with redis.pipeline(transaction=False) as pipe:
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
        pipe.execute()


def pending_count(redis: Redis) -> int:
    """Entries read but not acknowledged yet."""
    try:
        return int(redis.xpending(STREAM, GROUP)["pending"])
    except ResponseError:  # no stream or no group yet
        return 0


def _entry(id_: bytes, fields: dict[bytes, bytes]) -> Entry:
    return Entry(
        id=id_,
        provider=fields[b"provider"].decode(),
        body=fields[b"body"],
        received_at=datetime.fromisoformat(fields[b"at"].decode()),
    )


def _script(redis: Redis, name: str, source: str) -> Any:
    script = getattr(redis, name, None)
    if script is None:
        script = redis.register_script(source)
        setattr(redis, name, script)  # cached per client
    return script
