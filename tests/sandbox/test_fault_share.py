"""Sandbox faults with a `share`: only that share of the matching requests fails, evenly."""

from __future__ import annotations

import pytest

from sandbox.faults import Faults
from sandbox.faults import Target

READ = Target(tenant="realm-1", method="GET", path="/v3/company/realm-1/query", write=False)


def outcomes(faults: Faults, requests: int) -> list[bool]:
    return [faults.take("quickbooks", READ) is not None for _ in range(requests)]


def test_a_thirty_percent_storm_fails_three_in_ten():
    faults = Faults()
    faults.arm("quickbooks", "server_error", count=1000, share=0.3)
    failed = outcomes(faults, 100)
    assert sum(failed) == 30
    assert all(sum(failed[i : i + 10]) == 3 for i in range(0, 100, 10))


def test_count_counts_answered_requests_only():
    faults = Faults()
    faults.arm("quickbooks", "rate_limit", count=2, share=0.5)
    assert outcomes(faults, 6) == [False, True, False, True, False, False]


def test_without_a_share_every_match_fails():
    faults = Faults()
    faults.arm("quickbooks", "server_error", count=3)
    assert outcomes(faults, 4) == [True, True, True, False]


@pytest.mark.parametrize("share", [0, -0.1, 1.5, "half", True])
def test_a_bad_share_is_refused_by_name(share):
    with pytest.raises(ValueError, match="share"):
        Faults().arm("quickbooks", "server_error", share=share)
