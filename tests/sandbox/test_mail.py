"""The sandbox's mail server: started by the sandbox when configured, its mailbox over HTTP
(JSON and the page), refusals on demand, and many senders at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from datetime import datetime

import pytest
import requests

from core.settings import SmtpSettings
from outbox.email.message import Sender
from outbox.email.message import build_reminder
from outbox.email.smtp import PermanentFailure
from outbox.email.smtp import send
from sandbox import SandboxConfig
from sandbox import create_app
from tests.servers import free_port
from tests.servers import serve


def reminder(to: str, key: str = "dw-1-1"):
    return build_reminder(
        sender=Sender("Acme Plumbing", "reminders@mail.dunwell.test", "ar@acme.test"),
        to=to,
        subject=f"Reminder {key}",
        body="Dear customer,\n\n- Invoice 7: 10.00 USD - https://pay.test/7\n",
        invoices=[
            {"number": "7", "balance": "10", "currency": "USD", "link": "https://pay.test/7"}
        ],
        key=key,
        unsubscribe_url="https://dunwell.test/unsubscribe/x",
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )


@pytest.fixture
def sandbox() -> Iterator[tuple[str, SmtpSettings]]:
    port = free_port()
    app = create_app(SandboxConfig(size="small", smtp_port=port))
    try:
        with serve(app) as url:
            yield url, SmtpSettings("127.0.0.1", port, "none", timeout=10)
    finally:
        app.extensions["sandbox_smtp"].stop()


def test_the_sandbox_runs_a_mail_server_and_shows_its_mailbox_as_json(sandbox):
    url, smtp = sandbox
    send(smtp, reminder("bea@customer.test", "dw-1-1"))
    send(smtp, reminder("cal@customer.test", "dw-1-2"))
    messages = requests.get(f"{url}/_sandbox/mail", timeout=10).json()["messages"]
    assert [m["to"] for m in messages] == [["bea@customer.test"], ["cal@customer.test"]]
    first = messages[0]
    assert first["from"] == "Acme Plumbing <reminders@mail.dunwell.test>"
    assert first["subject"] == "Reminder dw-1-1"
    assert first["message_id"] == "<dw-1-1@mail.dunwell.test>"
    assert first["date"] == "Fri, 20 Nov 2026 00:00:00 +0000"
    assert first["text"].startswith("Dear customer,\n")
    assert '<a href="https://pay.test/7">Pay now</a>' in first["html"]
    assert ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"] in first["headers"]
    only_cal = requests.get(f"{url}/_sandbox/mail", params={"to": "CAL@customer.test"}, timeout=10)
    assert [m["subject"] for m in only_cal.json()["messages"]] == ["Reminder dw-1-2"]
    assert requests.delete(f"{url}/_sandbox/mail", timeout=10).json() == {"messages": []}
    assert requests.get(f"{url}/_sandbox/mail", timeout=10).json() == {"messages": []}


def test_refusals_are_set_over_http(sandbox):
    url, smtp = sandbox
    spec = {"recipient": "gone@customer.test", "code": 550, "message": "5.1.1 user unknown"}
    assert requests.post(f"{url}/_sandbox/mail/refusals", json=spec, timeout=10).ok
    with pytest.raises(PermanentFailure, match="550 5.1.1 user unknown"):
        send(smtp, reminder("gone@customer.test"))
    bad = requests.post(f"{url}/_sandbox/mail/refusals", json={"code": 250}, timeout=10)
    assert bad.status_code == 400
    cleared = requests.delete(f"{url}/_sandbox/mail/refusals", timeout=10).json()
    assert cleared == {"refusals": []}
    send(smtp, reminder("gone@customer.test"))


def test_the_mailbox_page_lists_recipients_and_shows_a_message(sandbox):
    url, smtp = sandbox
    send(smtp, reminder("bea@customer.test"))
    console = requests.get(f"{url}/_sandbox/", timeout=10).text
    assert 'href="/_sandbox/mailbox"' in console
    page = requests.get(f"{url}/_sandbox/mailbox", timeout=10).text
    assert "bea@customer.test" in page and 'class="count">1<' in page
    message_id = requests.get(f"{url}/_sandbox/mail", timeout=10).json()["messages"][0]["id"]
    params = {"to": "bea@customer.test", "id": message_id}
    page = requests.get(f"{url}/_sandbox/mailbox", params=params, timeout=10).text
    assert "<th>Message-ID</th><td>&lt;dw-1-1@mail.dunwell.test&gt;</td>" in page
    assert "Dear customer," in page
    frame = f'sandbox title="HTML part" src="/_sandbox/mail/{message_id}.html">'
    assert frame in page
    assert "<script" not in page and "<style" not in page and "style=" not in page
    part = requests.get(f"{url}/_sandbox/mail/{message_id}.html", timeout=10)
    assert part.headers["Content-Security-Policy"].startswith("sandbox;")
    assert "Pay now" in part.text
    assert requests.get(f"{url}/_sandbox/mail/999.html", timeout=10).status_code == 404


def test_the_sandbox_mail_server_can_require_starttls_and_a_login(certificate):
    port = free_port()
    app = create_app(
        SandboxConfig(
            size="small",
            smtp_port=port,
            smtp_certificate=(certificate.cert_file, certificate.key_file),
            smtp_credentials=("demo", "demo-password"),
        )
    )
    try:
        smtp = SmtpSettings(
            "127.0.0.1", port, "starttls", timeout=10, ca_file=certificate.cert_file
        )
        with pytest.raises(PermanentFailure, match="530"):
            send(smtp, reminder("bea@customer.test"))
        send(
            replace(smtp, username="demo", password="demo-password"), reminder("bea@customer.test")
        )
        assert len(app.extensions["sandbox_mailbox"].messages("bea@customer.test")) == 1
    finally:
        app.extensions["sandbox_smtp"].stop()


def test_many_senders_at_once_lose_nothing(mail):
    def deliver(n: int) -> None:
        send(mail.settings(), reminder(f"c{n}@customer.test", f"dw-1-{n}"))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    messages = mail.mailbox.messages()
    assert len(messages) == 20
    assert len({m["id"] for m in messages}) == 20
    assert {m["message_id"] for m in messages} == {
        f"<dw-1-{n}@mail.dunwell.test>" for n in range(20)
    }
    assert len(mail.mailbox.by_recipient()) == 20
