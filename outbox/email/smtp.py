"""Delivering one message over SMTP, with the outcome in the two shapes the outbox acts on.

`send` returns the server's reference for the message (the text of its final 250 reply, which
names the queue id on most servers, else the Message-ID). A failure is either
`PermanentFailure` (a 5xx reply, authentication refused, every recipient refused, a certificate
that does not verify: the action fails with the server's own words, no retry) or
`TemporaryFailure` (no connection, a timeout, a 4xx reply: retried later), both from
outbox.email.errors. The password never appears in a message or a log.
"""

from __future__ import annotations

import copy
import io
import logging
import smtplib
import socket
import ssl
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses
from email.utils import parseaddr

from core.settings import SmtpSettings
from outbox.email.errors import PermanentFailure
from outbox.email.errors import TemporaryFailure

__all__ = ["FAILURES", "Mailer", "PermanentFailure", "SmtpSettings", "TemporaryFailure", "send"]

FAILURES = (PermanentFailure, TemporaryFailure)  # for `except FAILURES`
Failure = PermanentFailure | TemporaryFailure

log = logging.getLogger(__name__)

_BARE_REPLIES = {"", "ok", "2.0.0 ok", "2.6.0 ok"}


def send(settings: SmtpSettings, message: EmailMessage) -> str:
    """Deliver `message` to every address in its To, Cc and Bcc; returns the server's reference."""
    with Mailer(settings) as mailer:
        return mailer.send(message)


class Mailer:
    """One SMTP connection kept open across the messages of a delivery run (a connection, TLS
    handshake and login per message cost more than the message). A connection the server
    closed while idle is opened again before MAIL, never after DATA (which could send twice);
    any failure closes it, so the next message starts on a clean one."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, message: EmailMessage) -> str:
        sender = parseaddr(str(message.get("Sender") or message.get("From") or ""))[1]
        recipients = _recipients(message)
        if not sender or not recipients:
            raise PermanentFailure("the message names no sender or no recipient")
        settings = self.settings
        try:
            reply = _transmit(self._ready(), sender, recipients, message)
        except FAILURES:
            self.close()
            raise
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _from_reply(exc.smtp_code, exc.smtp_error) from None
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise PermanentFailure(
                f"{_where(settings)} has an untrusted certificate: {exc}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryFailure(
                f"could not talk to {_where(settings)}: {_describe(exc)}"
            ) from None
        return _reference(reply, message)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _ready(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.rset()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp.close()
            self._smtp = None
        smtp = _connect(self.settings)
        try:
            _secure_and_login(smtp, self.settings)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    if settings.security == "tls":
        return smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=_tls(settings)
        )
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _tls(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file or None)


def _secure_and_login(smtp: smtplib.SMTP, settings: SmtpSettings) -> None:
    smtp.ehlo_or_helo_if_needed()
    if settings.security == "starttls":
        if not smtp.has_extn("starttls"):
            raise PermanentFailure(f"{_where(settings)} does not offer STARTTLS")
        smtp.starttls(context=_tls(settings))
        smtp.ehlo()
    if not settings.username:
        return
    if not smtp.has_extn("auth"):
        raise PermanentFailure(f"{_where(settings)} does not offer AUTH for the username given")
    try:
        smtp.login(settings.username, settings.password)
    except smtplib.SMTPAuthenticationError as exc:
        failure = _from_reply(exc.smtp_code, exc.smtp_error)
        raise type(failure)(f"authentication refused: {failure}") from None
    except UnicodeEncodeError:
        raise PermanentFailure("the username and password must be ASCII") from None
    except smtplib.SMTPServerDisconnected:
        raise
    except smtplib.SMTPException as exc:  # no mechanism in common
        raise PermanentFailure(f"authentication impossible: {exc}") from None


def _transmit(
    smtp: smtplib.SMTP, sender: str, recipients: list[str], message: EmailMessage
) -> tuple[int, bytes]:
    """MAIL, RCPT for each recipient, DATA; smtplib's sendmail drops the final reply we need."""
    international = not all(a.isascii() for a in [sender, *recipients])
    if international and not smtp.has_extn("smtputf8"):
        raise PermanentFailure("an address is not ASCII and the server does not offer SMTPUTF8")
    options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        raise _from_reply(code, reply)
    refused = {}
    for recipient in recipients:
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        smtp.rset()
        raise _all_refused(refused)
    if refused:
        log.warning("%s of %s recipients refused: %s", len(refused), len(recipients), refused)
    code, reply = smtp.data(_wire_bytes(message, international))
    if code != 250:
        raise _from_reply(code, reply)
    return code, reply


def _wire_bytes(message: EmailMessage, international: bool) -> bytes:
    """The message as it goes on the wire (CRLF, no Bcc), as smtplib.send_message makes it."""
    visible = copy.copy(message)
    del visible["Bcc"]
    del visible["Resent-Bcc"]
    with io.BytesIO() as out:
        policy = message.policy
        if international and isinstance(policy, EmailPolicy):
            policy = policy.clone(utf8=True)
        BytesGenerator(out, policy=policy).flatten(visible, linesep="\r\n")
        return out.getvalue()


def _recipients(message: EmailMessage) -> list[str]:
    fields = [v for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return [address for _, address in getaddresses(fields) if address]


def _all_refused(refused: dict[str, tuple[int, bytes]]) -> Failure:
    failures = [_from_reply(code, reply) for code, reply in refused.values()]
    text = "; ".join(f"{who}: {failure}" for who, failure in zip(refused, failures, strict=True))
    deferred = [f for f in failures if isinstance(f, TemporaryFailure)]
    if deferred:  # a later try may still reach someone
        return TemporaryFailure(f"no recipient accepted the message now: {text}")
    return PermanentFailure(f"every recipient was refused: {text}")


def _from_reply(code: int, reply: bytes | str) -> Failure:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    message = f"{code} {text}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message)


def _reference(reply: tuple[int, bytes], message: EmailMessage) -> str:
    text = reply[1].decode("utf-8", "replace").strip()
    if text.lower() in _BARE_REPLIES:
        return str(message.get("Message-ID", "")).strip()
    return text[:200]


def _where(settings: SmtpSettings) -> str:
    return f"the mail server {settings.host}:{settings.port}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
