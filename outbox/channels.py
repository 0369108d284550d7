"""Where a taken action is written: the accounting system, or the organization's mail server.

Each function writes one command with the action's idempotency key and returns what to record.
Errors keep their kinds (providers.base errors; the email package's permanent and temporary
failures) for outbox.deliver to handle. A `Run` carries what the actions of one organization's
delivery run share: its provider client, its email setup and one open SMTP connection.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.context import JobContext
from core.db import session_scope
from core.models import Invoice
from core.models import Organization
from core.tokens import GrantDead
from outbox.commands import SendEmail
from outbox.email.channel import email_setup
from outbox.email.channel import send_reminder
from outbox.email.settings import EmailSetup
from outbox.email.smtp import Mailer
from outbox.perform import Taken
from providers.base import AnyRecord
from providers.base import Conflict
from providers.base import Provider
from providers.base import ProviderError
from providers.base import WriteCommand
from sync.clients import open_provider

log = logging.getLogger(__name__)

RECEIPT_SECONDS = 14 * 24 * 3600
# A write waits this long at most for our share of the provider's rate limit; past that it is
# rescheduled for when the limit frees up (outbox.deliver), and the worker moves on.
WRITE_MAX_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class Written:
    reference: str
    records: tuple[AnyRecord, ...] = ()


class Run:
    """What one delivery run of an organization opens once and reuses for every action."""

    def __init__(self, rt: JobContext, org_id: int) -> None:
        self.rt = rt
        self.org_id = org_id
        self._provider: Provider | None = None
        self._setup: EmailSetup | None = None
        self._mailer: Mailer | None = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def provider(self) -> Provider:
        if self._provider is None:
            with session_scope(self.rt.sessions) as session:
                org = _organization(session, self.org_id)
            self._provider = open_provider(
                org,
                self.rt.settings,
                self.rt.sessions,
                self.rt.queue_redis(),
                WRITE_MAX_WAIT_SECONDS,
            )
        return self._provider

    def email(self) -> tuple[EmailSetup, Mailer]:
        if self._setup is None or self._mailer is None:
            self._setup = email_setup(self.rt, self.org_id)
            self._mailer = Mailer(self._setup.smtp)
        return self._setup, self._mailer

    def forget_provider(self) -> None:
        """After a dead grant: the next action opens the client afresh."""
        self._provider = None

    def close(self) -> None:
        if self._mailer is not None:
            self._mailer.close()
        self._provider = self._setup = self._mailer = None


def write(rt: JobContext, taken: Taken, run: Run | None = None) -> Written:
    if run is None:
        with Run(rt, taken.organization_id) as own:
            return write(rt, taken, own)
    if isinstance(taken.command, SendEmail):
        return by_email(rt, taken.organization_id, taken.key, taken.command, run)
    return to_provider(rt, taken.organization_id, taken.command, taken.key, run)


def by_email(
    rt: JobContext, org_id: int, key: str, command: SendEmail, run: Run | None = None
) -> Written:
    """Send the reminder once.

    SMTP has no idempotency key: a worker that dies after the server accepted the message but
    before the outbox recorded it would send it again when the action is resumed. So the
    server's answer is written to Redis the instant it arrives (a receipt, one fast SET), and a
    resumed send that finds a receipt records it instead of sending again. What remains is the
    instant between the server's reply and that SET. The Message-ID stays the same on every
    attempt, so a receiving server can recognise a repeat even then. The receipt is looked up
    before every send: a person's retry of an action cut off after its send starts afresh."""
    if run is None:
        with Run(rt, org_id) as own:
            return by_email(rt, org_id, key, command, own)
    receipt_key = f"dunwell:email-receipt:{key}"
    receipt = rt.redis.get(receipt_key) if rt.redis is not None else None
    if receipt is not None:
        return Written(receipt.decode() if isinstance(receipt, bytes) else str(receipt))
    setup, mailer = run.email()
    command = with_payment_links(rt, org_id, command, run)
    reference = send_reminder(rt, org_id, key, command, setup, mailer)
    if rt.redis is not None:
        rt.redis.set(receipt_key, reference, ex=RECEIPT_SECONDS)
    return Written(reference)


def with_payment_links(rt: JobContext, org_id: int, command: SendEmail, run: Run) -> SendEmail:
    """The email's invoice lines, each with its online payment link. The mirror has QuickBooks'
    InvoiceLink; Xero's OnlineInvoice URL is asked for once and kept on the invoice in the
    mirror. Without a link (the provider would not say) the reminder still goes, its invoices
    listed without one."""
    missing = [line["external_id"] for line in command.invoices if not line.get("link")]
    if not missing:
        return command
    known = _stored_links(rt, org_id, missing)
    asked = [i for i in missing if i not in known]
    if asked:
        try:
            fetched = run.provider().invoice_links(asked)
        except (ProviderError, GrantDead) as exc:
            log.warning("payment links for organization %s not available: %s", org_id, exc)
            fetched = {}
        _store_links(rt, org_id, fetched)
        known.update(fetched)
    lines = tuple(
        {**line, "link": line.get("link") or known.get(line["external_id"])}
        for line in command.invoices
    )
    return dataclasses.replace(command, invoices=lines)


def _stored_links(rt: JobContext, org_id: int, invoice_ids: list[str]) -> dict[str, str]:
    with session_scope(rt.sessions) as session:
        rows = session.execute(
            Invoice.__table__.select()
            .with_only_columns(Invoice.external_id, Invoice.link)
            .where(
                Invoice.organization_id == org_id,
                Invoice.external_id.in_(invoice_ids),
                Invoice.link.is_not(None),
            )
        )
        return {external_id: link for external_id, link in rows if link}


def _store_links(rt: JobContext, org_id: int, links: dict[str, str]) -> None:
    if not links:
        return
    with session_scope(rt.sessions) as session:
        for external_id, link in links.items():
            session.execute(
                update(Invoice)
                .where(Invoice.organization_id == org_id, Invoice.external_id == external_id)
                .values(link=link)
            )


def to_provider(
    rt: JobContext, org_id: int, command: WriteCommand, key: str, run: Run | None = None
) -> Written:
    """Write through the provider; a stale version (Conflict) is re-read and tried once more,
    which each provider's write does by reading the record afresh."""
    if run is None:
        with Run(rt, org_id) as own:
            return to_provider(rt, org_id, command, key, own)
    provider = run.provider()
    try:
        result = provider.write(command, idempotency_key=key)
    except Conflict:
        result = provider.write(command, idempotency_key=f"{key}-r")
    return Written(result.reference, tuple(result.records))


def _organization(session: Session, org_id: int) -> Organization:
    org = session.get_one(Organization, org_id)
    session.expunge(org)
    return org
