"""`rq cron connector/cron.py`: the periodic jobs.

- the safety-net sync of every connected organization (webhooks get lost);
- the rules: the daily evaluation at each organization's local morning, and the sweep that
  performs actions whose wait (quiet hours, caps) is over.
"""

from rq import cron

from core.queues import SYNC
from core.settings import Settings
from rules import schedule
from sync.jobs import resync_all

cron.register(resync_all, SYNC, interval=Settings.from_env().safety_sync_minutes * 60)
schedule.register(cron)
