"""RQ cron registration for the rules package.

`register(cron)` accepts the `rq.cron` module (inside a config file for `rq cron <file>`) or a
`CronScheduler`; both offer `register(func, queue_name, cron=...)`. Nothing registers on import.

    # cron_config.py
    from rq import cron
    from rules import schedule
    schedule.register(cron)
"""

from __future__ import annotations

from typing import Any

from core.queues import ACTIONS
from core.queues import RULES

DAILY_CHECK = "*/15 * * * *"  # catches each organization's local 08:00, half-hour zones too
ACTIONS_SWEEP = "* * * * *"  # scheduled, retried and resumed deliveries


def register(cron: Any) -> None:
    """Register the rules' periodic jobs with the RQ cron `cron`: the daily evaluations and the
    outbox's sweep of due actions."""
    from outbox import jobs as outbox_jobs
    from rules import jobs

    cron.register(jobs.run_due_daily_evaluations, RULES, cron=DAILY_CHECK, job_timeout=600)
    cron.register(outbox_jobs.deliver_due_actions, ACTIONS, cron=ACTIONS_SWEEP, job_timeout=600)
