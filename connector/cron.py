"""`rq cron connector/cron.py`: the periodic jobs.

- the safety-net sync of every connected organization (webhooks get lost);
- the daily rules evaluation, at each organization's local morning.
"""

from rq import cron

from core.queues import RULES
from core.queues import SYNC
from core.settings import Settings
from sync.jobs import resync_all

cron.register(resync_all, SYNC, interval=Settings.from_env().safety_sync_minutes * 60)

try:
    from rules.jobs import run_due_daily_evaluations
except ImportError:  # the rules package is optional during early set-up
    pass
else:
    cron.register(run_due_daily_evaluations, RULES, cron="*/15 * * * *")
