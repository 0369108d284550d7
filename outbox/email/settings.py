"""Which mail server and sender an organization's email goes out with.

`effective()` answers for one organization: its own server when it set one (host, port,
security, login, the password decrypted), else the platform's (SMTP_URL); the From name and
address set by the admin, by default "<business name> <MAIL_FROM address>"; the Reply-To. The
platform server sends only as the platform's address (other domains would fail SPF and DMARC),
so a From address of the business's own needs the business's own server.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organization
from core.settings import SMTP_DEFAULT_PORTS
from core.settings import Settings
from core.settings import SmtpSettings
from core.tokens import GrantDead
from core.tokens import TokenCipher
from outbox.email.message import Sender
from outbox.email.models import EmailSettings


class EmailNotConfigured(Exception):
    """This organization has no mail server to send through (its own or the platform's)."""


@dataclass(frozen=True)
class EmailSetup:
    smtp: SmtpSettings
    sender: Sender
    own_server: bool


def load(session: Session, org_id: int) -> EmailSettings | None:
    return session.scalar(select(EmailSettings).where(EmailSettings.organization_id == org_id))


def effective(session: Session, org: Organization, settings: Settings) -> EmailSetup:
    """The server and sender for `org`; raises EmailNotConfigured with what is missing."""
    row = load(session, org.id) or EmailSettings(organization_id=org.id)
    platform_name, platform_address = parseaddr(settings.mail_from)
    name = row.from_name or org.name or platform_name
    if row.host:
        smtp = _own_server(row, settings)
        address = row.from_address or platform_address
    elif settings.smtp is not None:
        smtp, address = settings.smtp, platform_address
    else:
        raise EmailNotConfigured(
            "No mail server is set up: enter your own on the Email settings page "
            "(or the operator sets SMTP_URL and MAIL_FROM)."
        )
    if not address:
        raise EmailNotConfigured("No From address is set on the Email settings page.")
    sender = Sender(name=name, address=address, reply_to=row.reply_to or "")
    return EmailSetup(smtp=smtp, sender=sender, own_server=bool(row.host))


def save(
    session: Session, org_id: int, data: dict[str, Any], cipher: TokenCipher, updated_by: str
) -> EmailSettings:
    """Store validated form data (outbox.email.schemas). A blank password keeps the stored one;
    no username means no login, so the stored password goes too."""
    row = load(session, org_id)
    if row is None:
        row = EmailSettings(organization_id=org_id)
        session.add(row)
    for key in ("host", "security", "username", "from_name", "from_address", "reply_to"):
        setattr(row, key, data.get(key) or ("starttls" if key == "security" else ""))
    row.port = data.get("port") if row.host else None
    if not row.username:
        row.password_ciphertext = ""
    elif data.get("password"):
        row.password_ciphertext = cipher.encrypt({"password": data["password"]})
    row.updated_at = utcnow()
    row.updated_by = updated_by[:200]
    session.flush()
    return row


def has_password(row: EmailSettings | None) -> bool:
    return bool(row is not None and row.password_ciphertext)


def _own_server(row: EmailSettings, settings: Settings) -> SmtpSettings:
    password = ""
    if row.password_ciphertext:
        try:
            password = str(_cipher(settings).decrypt(row.password_ciphertext)["password"])
        except GrantDead:
            raise EmailNotConfigured(
                "The stored SMTP password cannot be read with the current encryption keys; "
                "enter it again on the Email settings page."
            ) from None
    timeout = settings.smtp.timeout if settings.smtp is not None else 20.0
    return SmtpSettings(
        host=row.host,
        port=row.port or SMTP_DEFAULT_PORTS.get(row.security, 587),
        security=row.security,
        username=row.username,
        password=password,
        timeout=timeout,
    )


def _cipher(settings: Settings) -> TokenCipher:
    return TokenCipher(settings.token_encryption_keys)
