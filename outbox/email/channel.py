"""The email channel: one reminder action, sent over its organization's mail server.

outbox.channels calls `send_reminder` with the action's idempotency key and its stored SendEmail
command (customer, address, subject, rendered text, invoice lines with their payment links). The
key becomes the Message-ID, so a retried send is recognisable. An organization with no usable
mail server, or a customer field that holds no address, is a PermanentFailure: retrying cannot
help until a person acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import Protocol

from core.context import JobContext
from core.db import session_scope
from core.db import utcnow
from core.models import Organization
from outbox.email.errors import PermanentFailure
from outbox.email.message import build_reminder
from outbox.email.settings import EmailNotConfigured
from outbox.email.settings import EmailSetup
from outbox.email.settings import effective
from outbox.email.smtp import Mailer
from outbox.email.smtp import send
from outbox.email.unsubscribe import unsubscribe_url


class ReminderEmail(Protocol):
    """What outbox.commands.SendEmail carries."""

    @property
    def customer_id(self) -> str: ...
    @property
    def to(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def invoices(self) -> Sequence[dict[str, Any]]: ...


def send_reminder(
    rt: JobContext,
    org_id: int,
    key: str,
    command: ReminderEmail,
    setup: EmailSetup | None = None,
    mailer: Mailer | None = None,
) -> str:
    """Send the reminder; returns the mail server's reference for it. A delivery run passes the
    organization's `setup` and an open `mailer` it reuses; alone, both are made for this one."""
    setup = setup or email_setup(rt, org_id)
    settings = rt.settings
    try:
        message = build_reminder(
            sender=setup.sender,
            to=command.to,
            subject=command.subject,
            body=command.text,
            invoices=command.invoices,
            key=key,
            unsubscribe_url=unsubscribe_url(
                settings.public_url, settings.secret_key, org_id, command.customer_id
            ),
            now=utcnow(),
        )
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from None
    if mailer is None:
        return send(setup.smtp, message)
    return mailer.send(message)


def email_setup(rt: JobContext, org_id: int) -> EmailSetup:
    with session_scope(rt.sessions) as session:
        org = session.get(Organization, org_id)
        if org is None:
            raise PermanentFailure(f"organization {org_id} is gone")
        try:
            return effective(session, org, rt.settings)
        except EmailNotConfigured as exc:
            raise PermanentFailure(str(exc)) from None
