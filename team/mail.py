"""The team's two emails, for the project's SMTP channel (outbox.email.smtp.send).

An invitation goes out as the organization's reminders do (outbox.email.settings.effective: its
own mail server, or the platform's). A sign-in link goes through the platform's server
(SMTP_URL, MAIL_FROM), or else through the mail server of an organization the user belongs to.
The caller looks the server up, commits, and only then sends: no database lock is held while a
mail server answers.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import formataddr
from email.utils import make_msgid
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Membership
from core.models import Organization
from core.settings import Settings
from outbox.email import settings as email_settings
from outbox.email.message import POLICY
from outbox.email.message import Sender
from outbox.email.settings import EmailNotConfigured
from outbox.email.settings import EmailSetup
from team import links
from team.roles import MAY
from team.roles import a


def invitation(
    setup: EmailSetup,
    to: str,
    org_name: str,
    role: str,
    inviter: str,
    link: str,
    expires_at: datetime,
    now: datetime,
) -> EmailMessage:
    message = _message(setup.sender, to, f"{inviter} invited you to {org_name} on Dunwell", now)
    message.set_content(
        f"{inviter} invited you to {org_name} on Dunwell as {a(role)}: {a(role)} may "
        f"{MAY[role]}.\n\n"
        f"Join here (the link works once, until {expires_at:%d %B %Y}):\n{link}\n\n"
        "You can sign in with your Intuit or Xero login, or with this email address alone.\n"
        "If you were not expecting this, you can ignore it.\n"
    )
    return message


def sign_in_link(setup: EmailSetup, to: str, link: str, now: datetime) -> EmailMessage:
    message = _message(setup.sender, to, "Your Dunwell sign-in link", now)
    minutes = int(links.LIFETIME.total_seconds() // 60)
    message.set_content(
        f"Sign in to Dunwell:\n{link}\n\n"
        f"The link works once, for the next {minutes} minutes. If you did not ask for it, "
        "ignore this email: nobody can sign in without it.\n"
    )
    return message


def for_organization(db: Session, settings: Settings, org: Organization) -> EmailSetup:
    """How the organization's email goes out; raises EmailNotConfigured."""
    return email_settings.effective(db, org, settings)


def for_user(db: Session, settings: Settings, user_id: int) -> EmailSetup:
    """How a sign-in link to `user_id` goes out; raises EmailNotConfigured."""
    if settings.smtp is not None and settings.mail_from:
        name, address = parseaddr(settings.mail_from)
        return EmailSetup(settings.smtp, Sender(name or "Dunwell", address), own_server=False)
    orgs = db.scalars(
        select(Organization)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.id)
    )
    for org in orgs:
        try:
            return email_settings.effective(db, org, settings)
        except EmailNotConfigured:
            continue
    raise EmailNotConfigured("no mail server is set up for sign-in links")


def _message(sender: Sender, to: str, subject: str, now: datetime) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = formataddr((" ".join(sender.name.split()), sender.address))
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["To"] = to
    message["Subject"] = " ".join(subject.split())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("dw-team", domain=sender.domain)
    return message
