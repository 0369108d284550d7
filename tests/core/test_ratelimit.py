"""RedisLimiter against a real Redis (this test worker's database), each test under its own key
prefix. A database shared between xdist workers is not enough: another worker's `redis`
fixture empties it between two steps of a test."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass

import pytest
import requests
import responses
from redis import Redis

from core.ratelimit import LimitWaitExceeded
from core.ratelimit import RedisLimiter
from providers.base import RateLimited
from providers.quickbooks.api import QuickBooksApi
from tests.conftest import REDIS_URL


@dataclass(frozen=True)
class Limit:
    """Any object with these attributes will do; core does not import providers."""

    key: str
    per_minute: int | None = None
    per_day: int | None = None
    in_flight: int | None = None


@pytest.fixture
def prefix() -> str:
    return f"test-ratelimit-{uuid.uuid4().hex}"


@pytest.fixture
def redis_client(prefix):
    client = Redis.from_url(REDIS_URL)
    yield client
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def limiter_factory(redis_client, prefix):
    def make(**kw) -> RedisLimiter:
        return RedisLimiter(redis_client, prefix=prefix, **kw)

    return make


def test_per_minute_limit_holds_across_threads(limiter_factory):
    limiter = limiter_factory(max_wait=0.3)
    limit = Limit("qbo:1", per_minute=5)
    outcomes: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            with limiter.slot((limit,)):
                result = "ran"
        except LimitWaitExceeded as exc:
            assert 55 <= exc.retry_after <= 60.1
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ran") == 5
    assert outcomes.count("refused") == 7


def test_per_day_limit(limiter_factory):
    limiter = limiter_factory(max_wait=0.1)
    limit = Limit("xero:t", per_day=3)
    for _ in range(3):
        with limiter.slot((limit,)):
            pass
    with pytest.raises(LimitWaitExceeded) as caught:
        with limiter.slot((limit,)):
            pass
    assert caught.value.retry_after > 80_000


def test_in_flight_limit_across_threads(limiter_factory):
    limiter = limiter_factory(max_wait=10)
    limit = Limit("qbo:2", in_flight=2)
    running = 0
    peak = 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal running, peak
        with limiter.slot((limit,)):
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2
    assert running == 0


def test_in_flight_slot_is_released_when_the_call_raises(limiter_factory):
    limiter = limiter_factory(max_wait=0.2)
    limit = Limit("qbo:3", in_flight=1)
    with pytest.raises(RuntimeError):
        with limiter.slot((limit,)):
            raise RuntimeError("provider call failed")
    started = time.monotonic()
    with limiter.slot((limit,)):
        pass
    assert time.monotonic() - started < 0.1


def test_crashed_worker_frees_its_slot_when_the_lease_expires(limiter_factory):
    limit = Limit("qbo:4", in_flight=1)
    crashed = limiter_factory(lease_seconds=0.4).slot((limit,))
    crashed.__enter__()  # never exits: the worker died mid-call
    with pytest.raises(LimitWaitExceeded):
        with limiter_factory(max_wait=0.1).slot((limit,)):
            pass
    started = time.monotonic()
    with limiter_factory(max_wait=2).slot((limit,)):
        waited = time.monotonic() - started
    assert 0.15 <= waited <= 1.0
    crashed.__exit__(None, None, None)  # a late release of an expired lease is harmless


def test_slots_of_a_killed_process_of_this_host_are_freed_at_once(limiter_factory, prefix):
    """A worker SIGKILLed mid-write held a slot in each of its delivery lanes; a caller kept
    waiting frees them without waiting out their lease. A live holder's slot, and one of a
    process on another host, keep theirs."""
    limit = Limit("qbo:6", in_flight=2)
    child = multiprocessing.get_context("fork").Process(
        target=_hold_two_slots, args=(limit, prefix)
    )
    child.start()
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    with limiter_factory(max_wait=0.5).slot((limit,)):
        pass  # both of the dead process's slots were freed
    live = limiter_factory(lease_seconds=60).slot((limit,))
    live.__enter__()
    elsewhere = f"another-host:{os.getpid()}:x"
    limiter = limiter_factory(max_wait=0.2)
    limiter.redis.zadd(f"{limiter.prefix}:qbo:6:inflight", {elsewhere: time.time() * 1000 + 60_000})
    with pytest.raises(LimitWaitExceeded):
        with limiter.slot((limit,)):
            pass
    live.__exit__(None, None, None)


def _hold_two_slots(limit: Limit, prefix: str) -> None:
    limiter = RedisLimiter(Redis.from_url(REDIS_URL), prefix=prefix, lease_seconds=60)
    held = [limiter.slot((limit,)) for _ in range(2)]
    for slot in held:
        slot.__enter__()  # never left: the process dies inside both calls
    os.kill(os.getpid(), signal.SIGKILL)


def test_observed_retry_after_delays_later_calls(limiter_factory):
    limiter = limiter_factory(max_wait=2)
    limit = Limit("qbo:5", per_minute=500, in_flight=10)
    limiter.observe(limit, remaining=None, retry_after=0.4)
    started = time.monotonic()
    with limiter.slot((limit,)):
        waited = time.monotonic() - started
    assert 0.35 <= waited <= 1.0


def test_retry_after_longer_than_max_wait_raises_at_once(limiter_factory):
    limiter = limiter_factory(max_wait=0.5)
    limit = Limit("qbo:6", per_minute=500)
    limiter.observe(limit, remaining=0, retry_after=30)
    started = time.monotonic()
    with pytest.raises(LimitWaitExceeded) as caught:
        with limiter.slot((limit,)):
            pass
    assert time.monotonic() - started < 0.2
    assert 29 <= caught.value.retry_after <= 30


def test_remaining_zero_without_retry_after_blocks_briefly(limiter_factory):
    limiter = limiter_factory(max_wait=2, empty_block_seconds=0.3)
    limit = Limit("xero:7", per_minute=60)
    limiter.observe(limit, remaining=0, retry_after=None)
    limiter.observe(limit, remaining=5, retry_after=None)  # advisory only: no effect
    started = time.monotonic()
    with limiter.slot((limit,)):
        assert time.monotonic() - started >= 0.25


def test_every_limit_must_allow_and_a_refusal_takes_no_slot(limiter_factory, redis_client, prefix):
    limiter = limiter_factory(max_wait=0.1)
    tenant = Limit("xero:tenant", per_minute=1)
    app = Limit("xero:app", per_minute=100, in_flight=5)
    with limiter.slot((tenant, app)):
        pass
    with pytest.raises(LimitWaitExceeded):
        with limiter.slot((tenant, app)):
            pass
    # The refused call left no trace in the app-wide window or in-flight set.
    assert redis_client.zcard(f"{prefix}:xero:app:minute") == 1
    assert redis_client.zcard(f"{prefix}:xero:app:inflight") == 0


def test_limits_without_numbers_never_block(limiter_factory, redis_client, prefix):
    limiter = limiter_factory(max_wait=0)
    for _ in range(20):
        with limiter.slot((Limit("free"),)):
            pass
    assert list(redis_client.scan_iter(f"{prefix}:*")) == []


def test_quickbooks_client_turns_a_long_wait_into_rate_limited(limiter_factory):
    class Token:
        def access_token(self) -> str:
            return "t"

        def refreshed(self, rejected: str) -> str:
            return "t"

    limiter = limiter_factory(max_wait=0.1)
    api = QuickBooksApi("https://qbo.test", "42", Token(), limiter, requests.Session())
    with responses.RequestsMock() as mock:
        mock.get("https://qbo.test/v3/company/42/invoice/1", json={"Invoice": {"Id": "1"}})
        assert api.read("invoice", "1")["Invoice"]["Id"] == "1"
    limiter.observe(api.limit, remaining=None, retry_after=20)
    with pytest.raises(RateLimited) as caught:
        api.read("invoice", "1")
    assert 19 <= caught.value.retry_after <= 20
