"""Where a taken action is written: the accounting system, or the organization's mail server.

Each function writes one command with the action's idempotency key and returns what to record.
Errors keep their kinds (providers.base errors; the email package's permanent and temporary
failures) for outbox.deliver to handle.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.context import JobContext
from core.db import session_scope
from core.models import Organization
from outbox.commands import SendEmail
from outbox.perform import Taken
from providers.base import AnyRecord
from providers.base import Conflict
from providers.base import WriteCommand
from sync.clients import open_provider


@dataclass(frozen=True)
class Written:
    reference: str
    records: tuple[AnyRecord, ...] = ()


def write(rt: JobContext, taken: Taken) -> Written:
    if isinstance(taken.command, SendEmail):
        from outbox.email.channel import send_reminder

        return Written(send_reminder(rt, taken.organization_id, taken.key, taken.command))
    return to_provider(rt, taken.organization_id, taken.command, taken.key)


def to_provider(rt: JobContext, org_id: int, command: WriteCommand, key: str) -> Written:
    """Write through the provider; a stale version (Conflict) is re-read and tried once more,
    which each provider's write does by reading the record afresh."""
    with session_scope(rt.sessions) as session:
        org = _organization(session, org_id)
        provider = open_provider(org, rt.settings, rt.sessions, rt.redis)
    try:
        result = provider.write(command, idempotency_key=key)
    except Conflict:
        result = provider.write(command, idempotency_key=f"{key}-r")
    return Written(result.reference, tuple(result.records))


def _organization(session: Session, org_id: int) -> Organization:
    org = session.get_one(Organization, org_id)
    session.expunge(org)
    return org
