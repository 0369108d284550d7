"""The email channel as the outbox calls it: a stored reminder command and its key, sent over
real SMTP with the organization's effective settings."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

import pytest

from core.context import JobContext
from outbox.email.channel import send_reminder
from outbox.email.errors import PermanentFailure
from outbox.email.errors import TemporaryFailure
from outbox.email.unsubscribe import PATH
from outbox.email.unsubscribe import read_token
from tests.connector.conftest import make_org


@dataclass(frozen=True)
class Reminder:
    customer_id: str = "C-9"
    to: str = "pat@customer.test"
    subject: str = "Invoice 88 is overdue"
    text: str = "Dear Pat,\n\n- Invoice 88: 40.00 NZD\n"
    invoices: tuple[dict[str, Any], ...] = field(
        default=({"number": "88", "balance": "40", "currency": "NZD", "link": "https://p.test/88"},)
    )


def context(settings, session_factory, redis, mail=None) -> JobContext:
    if mail is not None:
        settings = settings.with_changes(
            smtp=mail.settings(), mail_from="reminders@mail.dunwell.test"
        )
    return JobContext(settings=settings, sessions=session_factory, redis=redis)


def test_a_reminder_goes_out_with_the_key_as_message_id_and_a_working_unsubscribe(
    settings, session_factory, redis, mail
):
    org_id = make_org(session_factory, "quickbooks", "Tui Traders")
    rt = context(settings, session_factory, redis, mail)
    reference = send_reminder(rt, org_id, "dw-0a1b2c3d4e5f60718293a4b5", Reminder())
    [received] = mail.mailbox.messages()
    assert reference == f"2.0.0 OK: queued as {received['queue_id']}"
    assert received["to"] == ["pat@customer.test"]
    assert received["from"] == "Tui Traders <reminders@mail.dunwell.test>"
    assert received["message_id"] == "<dw-0a1b2c3d4e5f60718293a4b5@mail.dunwell.test>"
    assert "Pay online:\n- Invoice 88 (40.00 NZD): https://p.test/88" in received["text"]
    headers = dict(received["headers"])
    token = headers["List-Unsubscribe"].strip("<>").split(PATH)[1]
    assert read_token(settings.secret_key, token) == (org_id, "C-9")


def test_no_mail_server_or_no_address_is_permanent(settings, session_factory, redis, mail):
    org_id = make_org(session_factory, "xero", "Kea Kitchens")
    with pytest.raises(PermanentFailure, match="No mail server is set up"):
        send_reminder(context(settings, session_factory, redis), org_id, "dw-1", Reminder())
    rt = context(settings, session_factory, redis, mail)
    with pytest.raises(PermanentFailure, match="no email address"):
        send_reminder(rt, org_id, "dw-1", Reminder(to="n/a"))
    with pytest.raises(PermanentFailure, match="is gone"):
        send_reminder(rt, 4040, "dw-1", Reminder())
    assert mail.mailbox.messages() == []


def test_a_deferred_recipient_is_temporary(settings, session_factory, redis, mail):
    org_id = make_org(session_factory, "xero", "Kea Kitchens")
    mail.mailbox.refuse("pat@customer.test", 451, "4.2.0 mailbox busy")
    rt = context(settings, session_factory, redis, mail)
    with pytest.raises(TemporaryFailure, match="451 4.2.0 mailbox busy"):
        send_reminder(rt, org_id, "dw-2", Reminder())
