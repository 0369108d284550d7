"""An organization's own email settings, on the shared `core.db.Base`.

Every field is optional: an organization that sets nothing sends through the platform's mail
server (SMTP_URL) as "<its name> <MAIL_FROM address>". The SMTP password is stored encrypted with
the token keys (core.tokens.TokenCipher) and never leaves the server.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from core.db import Base
from core.db import UTCDateTime
from core.db import utcnow


class EmailSettings(Base):
    __tablename__ = "email_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), unique=True
    )
    host: Mapped[str] = mapped_column(String(255), default="")  # "": the platform's server
    port: Mapped[int | None] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10), default="starttls")
    username: Mapped[str] = mapped_column(String(255), default="")
    password_ciphertext: Mapped[str] = mapped_column(Text, default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    from_address: Mapped[str] = mapped_column(String(320), default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="")
