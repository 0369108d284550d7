"""Where a taken action is written: the accounting system, or the organization's mail server.

Each function writes one command with the action's idempotency key and returns what to record.
Errors keep their kinds (providers.base errors; the email package's permanent and temporary
failures) for outbox.deliver to handle.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.context import JobContext
from core.db import session_scope
from core.models import Organization
from core.tokens import GrantDead
from outbox.commands import SendEmail
from outbox.email.channel import send_reminder
from outbox.perform import Taken
from providers.base import AnyRecord
from providers.base import Conflict
from providers.base import ProviderError
from providers.base import WriteCommand
from sync.clients import open_provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    reference: str
    records: tuple[AnyRecord, ...] = ()


RECEIPT_SECONDS = 14 * 24 * 3600


def write(rt: JobContext, taken: Taken) -> Written:
    if isinstance(taken.command, SendEmail):
        return by_email(rt, taken.organization_id, taken.key, taken.command)
    return to_provider(rt, taken.organization_id, taken.command, taken.key)


def by_email(rt: JobContext, org_id: int, key: str, command: SendEmail) -> Written:
    """Send the reminder once.

    SMTP has no idempotency key: a worker that dies after the server accepted the message but
    before the outbox recorded it would send it again when the action is resumed. So the
    server's answer is written to Redis the instant it arrives (a receipt, one fast SET), and a
    resumed send that finds a receipt records it instead of sending again. What remains is the
    instant between the server's reply and that SET. The Message-ID stays the same on every
    attempt, so a receiving server can recognise a repeat even then."""
    receipt_key = f"dunwell:email-receipt:{key}"
    receipt = rt.redis.get(receipt_key) if rt.redis is not None else None
    if receipt is not None:
        return Written(receipt.decode())
    reference = send_reminder(rt, org_id, key, with_payment_links(rt, org_id, command))
    if rt.redis is not None:
        rt.redis.set(receipt_key, reference, ex=RECEIPT_SECONDS)
    return Written(reference)


def with_payment_links(rt: JobContext, org_id: int, command: SendEmail) -> SendEmail:
    """The email's invoice lines, each with its online payment link. The mirror has QuickBooks'
    InvoiceLink; Xero's OnlineInvoice URL is asked for at send time. Without a link (the
    provider would not say) the reminder still goes, its invoices listed without one."""
    missing = [line["external_id"] for line in command.invoices if not line.get("link")]
    if not missing:
        return command
    try:
        with session_scope(rt.sessions) as session:
            org = _organization(session, org_id)
        links = open_provider(org, rt.settings, rt.sessions, rt.redis).invoice_links(missing)
    except (ProviderError, GrantDead) as exc:
        log.warning("payment links for organization %s not available: %s", org_id, exc)
        return command
    lines = tuple(
        {**line, "link": line.get("link") or links.get(line["external_id"])}
        for line in command.invoices
    )
    return dataclasses.replace(command, invoices=lines)


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
