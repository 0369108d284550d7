"""A real SMTP server for the demo and the tests (aiosmtpd), keeping every message it receives.

`Mailbox` is the thread-safe, in-memory store: the messages (parsed into to, from, subject,
message-id, date, text, html and headers) and the recipients it has been told to refuse, with
a 550 or a 451 say, so the outbox's handling of refusals can be tried. `MailServer` runs aiosmtpd
in a thread of its own: plain, with STARTTLS when given a certificate, or with implicit TLS; with
a username and password it offers AUTH (over TLS only) and refuses mail without it.
"""

from __future__ import annotations

import itertools
import ssl
import threading
from datetime import UTC
from datetime import datetime
from email import message_from_bytes
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from aiosmtpd.smtp import LoginPassword

SERVER_NAME = "mail.sandbox.test"


class Mailbox:
    """Every message received, in order, and the refusals to answer with.

    As a real mail server queues a message before it looks inside, a message is only kept at
    receipt (its envelope, time and bytes) and parsed when first read: the SMTP reply does not
    wait for the parse."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsing = threading.Lock()  # readers parse under it, so receipt never waits
        self._messages: list[dict[str, Any]] = []
        self._refusals: dict[str, tuple[int, str]] = {}
        self._ids = itertools.count(1)

    def receive(
        self, envelope_from: str, recipients: list[str], content: bytes, peer: str = ""
    ) -> dict[str, Any]:
        """Keep one message; `peer` is the sending connection's address (host:port), so a
        client's reuse of one connection for several messages shows."""
        with self._lock:
            number = next(self._ids)
            record = {
                "id": number,
                "queue_id": f"SBX{number:06d}",
                "received_at": datetime.now(UTC).isoformat(),
                "envelope_from": envelope_from,
                "to": [r.lower() for r in recipients],
                "size": len(content),
                "peer": peer,
                _RAW: content,
            }
            self._messages.append(record)
            return {k: v for k, v in record.items() if k != _RAW}

    def messages(self, recipient: str = "") -> list[dict[str, Any]]:
        wanted = recipient.strip().lower()
        with self._lock:
            found = [m for m in self._messages if not wanted or wanted in m["to"]]
        with self._parsing:
            return [_parsed(m) for m in found]

    def message(self, number: int) -> dict[str, Any] | None:
        with self._lock:
            found = next((m for m in self._messages if m["id"] == number), None)
        if found is None:
            return None
        with self._parsing:
            return _parsed(found)

    def by_recipient(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for message in self.messages():
            for recipient in message["to"]:
                grouped.setdefault(recipient, []).append(message)
        return dict(sorted(grouped.items()))

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def refuse(self, recipient: str, code: int, reply: str = "") -> None:
        """Answer RCPT TO `recipient` with `code` (a 4xx or 5xx) from now on."""
        if not 400 <= code <= 599:
            raise ValueError("code must be a 4xx or 5xx SMTP reply code")
        default = "Mailbox unavailable" if code >= 500 else "Try again later"
        with self._lock:
            self._refusals[recipient.strip().lower()] = (code, reply or default)

    def refusal(self, recipient: str) -> tuple[int, str] | None:
        with self._lock:
            return self._refusals.get(recipient.strip().lower())

    def refusals(self) -> dict[str, tuple[int, str]]:
        with self._lock:
            return dict(self._refusals)

    def clear_refusals(self) -> None:
        with self._lock:
            self._refusals.clear()


_RAW = "_raw"


def _parsed(record: dict[str, Any]) -> dict[str, Any]:
    """`record` with what its message says (from, subject, message-id, date, text, html and
    headers), parsed once; the caller holds the mailbox's parsing lock."""
    content = record.get(_RAW)
    if content is None:
        return record
    parsed = message_from_bytes(content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    record.update(
        {
            "from": str(parsed.get("From", "")),
            "subject": str(parsed.get("Subject", "")),
            "message_id": str(parsed.get("Message-ID", "")),
            "date": str(parsed.get("Date", "")),
            "text": _part(parsed, "plain"),
            "html": _part(parsed, "html"),
            "headers": [[name, str(value)] for name, value in parsed.items()],
        }
    )
    del record[_RAW]  # last: a reader that finds no bytes finds every field
    return record


def _part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return ""
    return str(body.get_content()).replace("\r\n", "\n")


class _Handler:
    def __init__(self, mailbox: Mailbox, credentials: tuple[str, str] | None):
        self.mailbox = mailbox
        self.credentials = credentials

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        if self.credentials and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        refusal = self.mailbox.refusal(address)
        if refusal is not None:
            return f"{refusal[0]} {refusal[1]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        content = envelope.original_content or b""
        peer = ":".join(str(part) for part in (session.peer or ())[:2])
        record = self.mailbox.receive(envelope.mail_from, envelope.rcpt_tos, content, peer)
        return f"250 2.0.0 OK: queued as {record['queue_id']}"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        login, password = self.credentials
        ok = auth_data.login.decode() == login and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)


class MailServer:
    """aiosmtpd on `host:port`, in a thread; `start()` returns once it accepts connections."""

    def __init__(
        self,
        mailbox: Mailbox,
        host: str = "127.0.0.1",
        port: int = 8025,
        *,
        certificate: tuple[str, str] | None = None,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
    ):
        if (implicit_tls or credentials) and certificate is None:
            raise ValueError("TLS and AUTH need a certificate (certificate file, key file)")
        self.mailbox = mailbox
        self.host, self.port = host, port
        self.implicit_tls = implicit_tls
        handler = _Handler(mailbox, credentials)
        context = _server_context(certificate) if certificate else None
        self._controller = Controller(
            handler,
            hostname=host,
            port=port,
            ready_timeout=15,
            ssl_context=context if implicit_tls else None,
            server_hostname=SERVER_NAME,
            tls_context=None if implicit_tls else context,
            authenticator=handler.authenticate if credentials else None,
            auth_require_tls=not implicit_tls,  # implicit TLS is TLS from the first byte
        )

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}"


def _server_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context
