"""The fault-injection trials of bench/faults.py, a short version (issue 8, item 11): a whole
running stack on a Redis of its own survives a kill -9 of its worker mid-backfill, a Redis
restart and a 30% provider 5xx storm while payments happen: every queue moves again within a
minute, the mirror equals the sandbox, nothing is duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest

from bench.faultkit import RECOVERY_LIMIT
from bench.faultkit import Rig
from bench.faultkit import kill_mid_sync
from bench.faultkit import redis_restart
from bench.faultkit import server_error_storm

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rig(tmp_path_factory) -> Iterator[Rig]:
    running = Rig(tmp_path_factory.mktemp("faults"), database="sqlite", size="small")
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(
    "name, inject",
    [
        ("kill-mid-sync", kill_mid_sync),
        ("redis-restart", redis_restart),
        ("5xx-storm", partial(server_error_storm, seconds=4)),
    ],
)
def test_the_stack_recovers_without_loss_or_duplicates(rig, name, inject):
    outcome = rig.run(name, inject)
    if name == "kill-mid-sync":
        assert "mid-backfill" in outcome.note
    assert outcome.stalled == []
    assert outcome.recovery < RECOVERY_LIMIT
    assert outcome.mismatched == []
    assert outcome.duplicates == 0
