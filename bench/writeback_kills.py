"""SIGKILL of the RQ worker in the middle of delivering, many times: nothing lost, nothing sent
twice, checked against the sandbox's write log and its mailbox.

Each trial plans three reminders (each an email, then its record as a note on the customer)
and three notes, lets the demo stack's worker start writing them (the sandbox's writes slowed
to 0.3 s), SIGKILLs the worker and its work-horse at a random instant of the run, starts a new
worker, and waits until every action is finished: resumed by the sweep once the lease (3 s)
ran out, or, every fifth trial, by RQ's own abandoned-job handling alone. Then it counts, per
action, how many times it reached the mailbox or the ledger: 0 for a sent action is a loss,
2 or more a duplicate; an action the re-check withheld (cancelled or skipped, with its reason)
is listed apart, and one that ended any other way is a loss. SQLite and PostgreSQL, side by side.

    .venv/bin/python bench/writeback_kills.py [--trials 50] [--databases sqlite,postgresql]
        [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis import Redis  # noqa: E402

from bench.writeback import REDIS_URL  # noqa: E402
from bench.writeback import database_url  # noqa: E402
from tests.delivery import DeliveryStack  # noqa: E402
from tests.delivery import assert_outbox_matches_sandbox  # noqa: E402
from tests.delivery import kill_trial  # noqa: E402
from tests.delivery import open_world  # noqa: E402
from tests.delivery import settle  # noqa: E402
from tests.servers import free_port  # noqa: E402


def run(kind: str, trials: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix=f"kills-{kind}-") as tmp:
        Redis.from_url(REDIS_URL).flushdb()
        stack = DeliveryStack(
            web_port=free_port(),
            sandbox_port=free_port(),
            database_url=database_url(kind, Path(tmp)),
            redis_url=REDIS_URL,
            workdir=Path(tmp) / "stack",
            sandbox_size="demo",
        )
        stack.start()
        try:
            world = open_world(stack, quiet_start=True)
            started = time.monotonic()
            lost = duplicated = checked = withheld = 0
            reasons: set[str] = set()
            for trial in range(trials):
                result = kill_trial(world, trial, rng, sweep=trial % 5 != 4)
                lost += int(result["lost"])
                duplicated += int(result["duplicated"])
                withheld += int(result["withheld"])
                reasons.update(result["withheld_because"])
                checked += 6
            settle(world, timeout=60, scheduled=False)
            try:
                totals = assert_outbox_matches_sandbox(world)
                agrees = True
            except AssertionError:
                totals, agrees = {}, False
            return {
                "trials": trials,
                "planned_actions": checked,
                "lost": lost,
                "duplicated": duplicated,
                "withheld_by_the_recheck": withheld,
                "withheld_because": sorted(reasons),
                "outbox_matches_sandbox": agrees,
                "sent_in_total": totals,
                "seconds": round(time.monotonic() - started, 1),
            }
        finally:
            stack.stop()
            Redis.from_url(REDIS_URL).flushdb()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    results = {}
    for kind in args.databases.split(","):
        results[kind] = run(kind, args.trials, args.seed)
        print(json.dumps({kind: results[kind]}), flush=True)
    print("| database | trials | actions planned | lost | duplicated | outbox = sandbox |")
    print("|---|---|---|---|---|---|")
    for kind, r in results.items():
        print(
            f"| {kind} | {r['trials']} | {r['planned_actions']} | {r['lost']} | "
            f"{r['duplicated']} | {r['outbox_matches_sandbox']} |"
        )
    failed = any(r["lost"] or r["duplicated"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
