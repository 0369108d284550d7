"""Delivery over real SMTP to the sandbox's aiosmtpd server: plain, STARTTLS and implicit TLS,
and every kind of failure mapped to the outbox's two error types."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from datetime import UTC
from datetime import datetime

import pytest

from core.settings import SmtpSettings
from outbox.email.message import Sender
from outbox.email.message import build_reminder
from outbox.email.smtp import Mailer
from outbox.email.smtp import PermanentFailure
from outbox.email.smtp import TemporaryFailure
from outbox.email.smtp import send
from tests.mail import PASSWORD
from tests.mail import USERNAME
from tests.servers import free_port

SENDER = Sender("Acme Plumbing", "reminders@mail.dunwell.test", "accounts@acme.test")


def reminder(to: str = "Bea Buyer <bea@customer.test>", key: str = "dw-3-41"):
    return build_reminder(
        sender=SENDER,
        to=to,
        subject="Invoice 1043 is overdue",
        body="Dear Bea,\n\n- Invoice 1043: 120.00 USD - https://pay.test/1043\n",
        invoices=[
            {"number": "1043", "balance": "120", "currency": "USD", "link": "https://pay.test/1043"}
        ],
        key=key,
        unsubscribe_url="https://dunwell.test/unsubscribe/t0ken",
        now=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )


def test_plain_smtp_delivers_and_returns_the_servers_queue_id(mail):
    reference = send(mail.settings(), reminder())
    [received] = mail.mailbox.messages()
    assert reference == f"2.0.0 OK: queued as {received['queue_id']}"
    assert received["to"] == ["bea@customer.test"]
    assert received["envelope_from"] == "reminders@mail.dunwell.test"
    assert received["message_id"] == "<dw-3-41@mail.dunwell.test>"
    assert received["subject"] == "Invoice 1043 is overdue"
    assert "https://pay.test/1043" in received["text"]
    assert 'href="https://pay.test/1043">Pay now</a>' in received["html"]


def test_starttls_with_auth_verifies_the_certificate_and_logs_in(tls_mail):
    reference = send(tls_mail.settings(USERNAME, PASSWORD), reminder())
    assert reference.endswith(tls_mail.mailbox.messages()[0]["queue_id"])


def test_implicit_tls_with_auth(implicit_tls_mail):
    send(implicit_tls_mail.settings(USERNAME, PASSWORD), reminder())
    assert [m["to"] for m in implicit_tls_mail.mailbox.messages()] == [["bea@customer.test"]]


def test_a_refused_login_is_permanent_with_the_servers_words_and_no_password(tls_mail):
    with pytest.raises(PermanentFailure) as caught:
        send(tls_mail.settings(USERNAME, "wrong-password-123"), reminder())
    assert str(caught.value).startswith("authentication refused: 535")
    assert "wrong-password-123" not in str(caught.value)
    assert "wrong-password-123" not in repr(tls_mail.settings(USERNAME, "wrong-password-123"))
    assert tls_mail.mailbox.messages() == []


def test_a_server_that_requires_a_login_refuses_mail_without_one(tls_mail):
    with pytest.raises(PermanentFailure, match="^530 5.7.0 Authentication required"):
        send(tls_mail.settings(), reminder())


def test_an_untrusted_certificate_is_permanent_and_nothing_is_sent(tls_mail, implicit_tls_mail):
    for server in (tls_mail, implicit_tls_mail):
        untrusted = replace(server.settings(USERNAME, PASSWORD), ca_file="")
        with pytest.raises(PermanentFailure, match="untrusted certificate"):
            send(untrusted, reminder())
        assert server.mailbox.messages() == []


def test_starttls_asked_of_a_server_without_it_is_permanent(mail):
    with pytest.raises(PermanentFailure, match="does not offer STARTTLS"):
        send(replace(mail.settings(), security="starttls"), reminder())
    assert mail.mailbox.messages() == []


def test_a_550_for_the_recipient_is_permanent_with_the_reply(mail):
    mail.mailbox.refuse("bea@customer.test", 550, "5.1.1 <bea@customer.test>: no such user")
    with pytest.raises(PermanentFailure) as caught:
        send(mail.settings(), reminder())
    assert "550 5.1.1 <bea@customer.test>: no such user" in str(caught.value)
    assert mail.mailbox.messages() == []


def test_a_451_for_the_recipient_is_temporary(mail):
    mail.mailbox.refuse("bea@customer.test", 451, "4.7.1 greylisted, try again later")
    with pytest.raises(TemporaryFailure) as caught:
        send(mail.settings(), reminder())
    assert "greylisted" in str(caught.value)


def test_one_refused_recipient_of_two_still_delivers_to_the_other(mail):
    mail.mailbox.refuse("old@customer.test", 550)
    send(mail.settings(), reminder(to="bea@customer.test, old@customer.test"))
    assert [m["to"] for m in mail.mailbox.messages()] == [["bea@customer.test"]]


def test_no_server_listening_is_temporary():
    closed = SmtpSettings("127.0.0.1", free_port(), "none", timeout=2)
    with pytest.raises(TemporaryFailure, match="could not talk to the mail server"):
        send(closed, reminder())


def test_a_server_that_never_answers_times_out_as_temporary():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True)
    thread.start()
    try:
        settings = SmtpSettings("127.0.0.1", silent.getsockname()[1], "none", timeout=0.5)
        with pytest.raises(TemporaryFailure, match="timed out"):
            send(settings, reminder())
    finally:
        thread.join(timeout=5)
        for connection, _ in accepted:
            connection.close()
        silent.close()


def test_a_retried_send_carries_the_same_message_id(mail):
    send(mail.settings(), reminder())
    send(mail.settings(), reminder())
    ids = {m["message_id"] for m in mail.mailbox.messages()}
    assert ids == {"<dw-3-41@mail.dunwell.test>"}


def test_bcc_is_delivered_but_not_shown(mail):
    message = reminder()
    message["Bcc"] = "audit@acme.test"
    send(mail.settings(), message)
    [received] = mail.mailbox.messages()
    assert received["to"] == ["bea@customer.test", "audit@acme.test"]
    assert all(name.lower() != "bcc" for name, _ in received["headers"])


def test_a_non_ascii_password_is_a_clear_permanent_failure(tls_mail):
    with pytest.raises(PermanentFailure, match="must be ASCII"):
        send(tls_mail.settings(USERNAME, "pässwort"), reminder())


def test_one_mailer_sends_a_run_of_messages_over_one_connection(mail):
    with Mailer(mail.settings()) as mailer:
        mailer.send(reminder(key="dw-1-1"))
        mailer.send(reminder(key="dw-1-2"))
    send(mail.settings(), reminder(key="dw-1-3"))
    first, second, alone = mail.mailbox.messages()
    assert first["peer"] and first["peer"] == second["peer"]
    assert alone["peer"] != first["peer"]


def test_a_mailer_whose_connection_was_dropped_opens_another_and_sends_once(mail):
    with Mailer(mail.settings()) as mailer:
        mailer.send(reminder(key="dw-2-1"))
        mailer._smtp.sock.close()  # the server (or a NAT) dropped the idle connection
        mailer.send(reminder(key="dw-2-2"))
    ids = [m["message_id"] for m in mail.mailbox.messages()]
    assert ids == ["<dw-2-1@mail.dunwell.test>", "<dw-2-2@mail.dunwell.test>"]


def test_a_mailer_closes_its_connection_after_a_failure_and_recovers(mail):
    mail.mailbox.refuse("bea@customer.test", 550, "5.1.1 No such user")
    with Mailer(mail.settings()) as mailer:
        with pytest.raises(PermanentFailure):
            mailer.send(reminder(key="dw-3-1"))
        mail.mailbox.clear_refusals()
        mailer.send(reminder(key="dw-3-2"))
    assert [m["message_id"] for m in mail.mailbox.messages()] == ["<dw-3-2@mail.dunwell.test>"]


class ScriptedServer:
    """A bare SMTP server that, after `goodbye_after` messages on a connection, says 421 and
    closes it, as a server limiting messages per connection does."""

    def __init__(self, goodbye_after: int | None = None) -> None:
        self.goodbye_after = goodbye_after
        self.messages = 0
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def settings(self) -> SmtpSettings:
        return SmtpSettings("127.0.0.1", self.listener.getsockname()[1], "none", timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection, connection.makefile("rb") as lines:
                self._talk(connection, lines)

    def _talk(self, connection: socket.socket, lines) -> None:
        connection.sendall(b"220 scripted ESMTP\r\n")
        sent_here = 0
        for raw in lines:
            command = raw.decode().strip()
            verb = command.split(" ")[0].upper()
            if verb == "EHLO":
                connection.sendall(b"250-scripted\r\n250 8BITMIME\r\n")
            elif verb == "DATA":
                connection.sendall(b"354 go on\r\n")
                for body in lines:
                    if body == b".\r\n":
                        break
                self.messages += 1
                sent_here += 1
                connection.sendall(f"250 2.0.0 OK: queued as Q{self.messages}\r\n".encode())
                if self.goodbye_after is not None and sent_here >= self.goodbye_after:
                    connection.sendall(b"421 4.7.0 too many messages, closing\r\n")
                    return
            elif verb == "QUIT":
                connection.sendall(b"221 bye\r\n")
                return
            else:
                connection.sendall(b"250 OK\r\n")

    def close(self) -> None:
        self.listener.close()


def test_a_server_that_said_goodbye_after_a_message_gets_the_next_on_a_new_connection():
    server = ScriptedServer(goodbye_after=1)
    try:
        with Mailer(server.settings) as mailer:
            assert mailer.send(reminder(key="dw-5-1")).endswith("Q1")
            assert mailer.send(reminder(key="dw-5-2")).endswith("Q2")
        assert server.messages == 2 and server.connections == 2
    finally:
        server.close()
