"""Fault injection (issue 8, item 11; not a test; prints figures).

Repeats trials of: kill -9 of the worker mid-sync, a Redis restart (a Redis of its own), a
PostgreSQL restart (a private cluster made with initdb, with `--database private`), a 30%
provider 5xx storm, a 429 storm, and 20 processes refreshing one rotating token. After each:
every queue moves again within a minute, the mirror equals the sandbox, nothing is duplicated
(see bench/faultkit.py). Prints one line per trial, then trials, losses, duplicates and the
recovery times.

    .venv/bin/python bench/faults.py --repeat 3
    .venv/bin/python bench/faults.py --repeat 3 --database private   # with PostgreSQL restarts
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.faultkit import RECOVERY_LIMIT  # noqa: E402
from bench.faultkit import TRIALS  # noqa: E402
from bench.faultkit import Outcome  # noqa: E402
from bench.faultkit import Rig  # noqa: E402
from bench.stackrun import percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "private"), default="sqlite")
    parser.add_argument("--size", default="small", choices=("small", "demo", "large"))
    parser.add_argument("--trials", default=",".join(TRIALS), help="comma-separated names")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    chosen = [t.strip() for t in args.trials.split(",")]
    unknown = [t for t in chosen if t not in TRIALS]
    if unknown:
        parser.error(f"unknown trials {unknown}; choose among {list(TRIALS)}")

    workdir = Path(tempfile.mkdtemp(prefix="dunwell-faults-"))
    rig = Rig(workdir, args.database, args.size)
    outcomes: list[Outcome] = []
    try:
        rig.start()
        print(f"{len(rig.orgs)} organizations on {args.database}; {args.repeat} rounds", flush=True)
        for round_ in range(1, args.repeat + 1):
            for name in chosen:
                outcome = rig.run(name, TRIALS[name])
                outcomes.append(outcome)
                print(
                    f"round {round_} {name:<32} recovery {outcome.recovery:5.1f}s  "
                    f"lost {outcome.lost}  duplicates {outcome.duplicates}  {outcome.note}",
                    flush=True,
                )
                for problem in outcome.mismatched:
                    print(f"    mismatch: {problem}")
                if outcome.stalled:
                    print(f"    stalled organizations: {outcome.stalled}")
    finally:
        rig.stop()
        if args.keep:
            print(f"logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return summarize(outcomes)


def summarize(outcomes: list[Outcome]) -> int:
    recoveries = [o.recovery for o in outcomes]
    lost = sum(o.lost for o in outcomes)
    duplicates = sum(o.duplicates for o in outcomes)
    slow = sum(o.recovery >= RECOVERY_LIMIT for o in outcomes)
    print(
        f"\ntrials {len(outcomes)}  losses {lost}  duplicates {duplicates}  "
        f"recovery median {percentile(recoveries, 50):.1f}s max {max(recoveries):.1f}s  "
        f"over {RECOVERY_LIMIT:.0f}s: {slow}"
    )
    for name in dict.fromkeys(o.trial for o in outcomes):
        mine = [o.recovery for o in outcomes if o.trial == name]
        print(f"  {name:<32} recovery median {percentile(mine, 50):5.1f}s  max {max(mine):5.1f}s")
    return 0 if lost == 0 and duplicates == 0 and slow == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
