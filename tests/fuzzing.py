"""How much the fuzz tests try: a CI-sized default, more with DUNWELL_FUZZ_EXAMPLES.

DUNWELL_FUZZ_EXAMPLES=N runs N examples for each fuzzed property and each API operation
(e.g. 20000 for a long run before a release). Unset, each test uses its own small default,
sized so the whole suite's fuzzing stays within about a minute.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck
from hypothesis import settings


def examples(default: int) -> int:
    return int(os.environ.get("DUNWELL_FUZZ_EXAMPLES") or default)


def fuzz_settings(default: int) -> settings:
    """Settings for a fuzz test that shares one app and database across its examples."""
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
