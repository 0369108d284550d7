"""`rq cron connector/cron.py`: the periodic jobs.

- the safety-net sync of every connected organization (webhooks get lost);
- the webhook inbox's drain, so an acknowledged delivery whose drain job was never queued, or
  whose drain died, is recorded within a minute or so (webhooks.drain);
- the rules: the daily evaluation at each organization's local morning, and the sweep that
  performs actions whose wait (quiet hours, caps) is over.
"""

from rq import cron

from core.queues import SYNC
from core.settings import Settings
from rules import schedule
from sync.jobs import resync_all
from webhooks.jobs import DRAIN_EVERY_SECONDS
from webhooks.jobs import DRAIN_QUEUE
from webhooks.jobs import drain_inbox

cron.register(resync_all, SYNC, interval=Settings.from_env().safety_sync_minutes * 60)
cron.register(drain_inbox, DRAIN_QUEUE, interval=DRAIN_EVERY_SECONDS)
schedule.register(cron)
