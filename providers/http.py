"""The one retry loop both providers' HTTP clients run their calls through.

A call is tried, and tried again after a timeout, a refused connection, a rate limit or a
server error, up to `RetryPolicy.attempts` more times; a 401 refreshes the access token once;
any other answer of 400 or more is the provider's error for it. A rate limit that asks for a
longer wait than `max_wait` is not slept on: the RateLimited goes back to the caller (an RQ job
that comes back after Retry-After), so a worker never blocks for long.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from email.utils import parsedate_to_datetime

import requests

from providers.base import Credentials
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Unavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before giving up.

    `attempts` retries follow the first try. Between them: the Retry-After the provider gave,
    or exponential backoff with jitter (half fixed, half random) capped at `max_backoff`.
    """

    attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 60.0
    timeout: float | tuple[float, float] = (5.0, 60.0)
    sleep: Callable[[float], None] = time.sleep

    def capped(self, seconds: float) -> RetryPolicy:
        """This policy with no sleep longer than `seconds` (a write, which is rescheduled rather
        than left to hold its worker)."""
        return replace(
            self, max_wait=min(self.max_wait, seconds), max_backoff=min(self.max_backoff, seconds)
        )

    def backoff_delay(self, failures: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def call(
    send: Callable[[str], requests.Response],
    credentials: Credentials,
    policy: RetryPolicy,
    error: Callable[[requests.Response], ProviderError],
    unreachable: Callable[[Exception], ProviderError],
    what: str,
) -> requests.Response:
    """`send(token)` until it succeeds; the successful response, or the ProviderError that
    `error(response)` (or `unreachable(exception)`) makes of the last failure."""
    token = credentials.access_token()
    refreshed = False
    failures = 0
    while True:
        try:
            response = send(token)
        except (requests.Timeout, requests.ConnectionError) as exc:
            failures += 1
            _pause_or_raise(policy, failures, None, unreachable(exc), what)
            continue
        if response.status_code == 401 and not refreshed:
            token, refreshed = credentials.refreshed(token), True
            continue
        if response.status_code < 400:
            return response
        problem = error(response)
        if not isinstance(problem, RateLimited | Unavailable):
            raise problem
        failures += 1
        _pause_or_raise(policy, failures, retry_after(response), problem, what)


def _pause_or_raise(
    policy: RetryPolicy, failures: int, wait: float | None, problem: ProviderError, what: str
) -> None:
    if failures > policy.attempts or (wait is not None and wait > policy.max_wait):
        raise problem
    delay = policy.backoff_delay(failures) if wait is None else wait
    log.warning("%s failed (%s); retry %d in %.1fs", what, problem.message, failures, delay)
    policy.sleep(delay)


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
