"""The MIME structure and headers of a reminder, its HTML made from the text, the Message-ID."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from email import message_from_bytes
from email import policy

import pytest

from outbox.email.message import Sender
from outbox.email.message import build_reminder
from outbox.email.message import message_id
from outbox.email.message import recipients

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
UNSUBSCRIBE = "https://dunwell.test/unsubscribe/abc.def"
BODY = """Dear Bea & co,

Our records show the following invoices are awaiting payment:
- Invoice 1043: 120.00 USD, due 2026-11-01 (19 days overdue) - https://pay.test/1043
- Invoice 1044: 80.00 USD, due 2026-11-10 <b>late</b>

Terms: https://acme.test/terms.
Acme Plumbing
"""
INVOICES = [
    {"number": "1043", "balance": "120.0000", "currency": "USD", "link": "https://pay.test/1043"},
    {"number": "1044", "balance": "80.0000", "currency": "USD", "link": "https://pay.test/1044"},
    {"number": "1045", "balance": "5", "currency": "USD", "link": "javascript:alert(1)"},
]


def build(**changes):
    arguments = {
        "sender": Sender("Acme Plumbing Ltd.", "reminders@mail.dunwell.test", "ar@acme.test"),
        "to": "Bea Buyer <bea@customer.test>; ops@customer.test",
        "subject": "Your invoices\nfrom Acme",
        "body": BODY,
        "invoices": INVOICES,
        "key": "dw-7-1234",
        "unsubscribe_url": UNSUBSCRIBE,
        "now": NOW,
    }
    arguments.update(changes)
    return build_reminder(**arguments)


def parsed(message):
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def test_headers_of_a_reminder():
    message = parsed(build())
    assert message["From"] == '"Acme Plumbing Ltd." <reminders@mail.dunwell.test>'
    assert message["Reply-To"] == "ar@acme.test"
    assert message["To"] == "bea@customer.test, ops@customer.test"
    assert message["Subject"] == "Your invoices from Acme"
    assert message["Date"] == "Fri, 20 Nov 2026 09:30:00 +0000"
    assert message["Message-ID"] == "<dw-7-1234@mail.dunwell.test>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_mime_structure_is_text_then_html_alternatives():
    message = parsed(build())
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)


def test_the_message_id_is_made_from_the_key_and_is_the_same_on_a_retry():
    assert message_id("dw-7-1234", "mail.dunwell.test") == "<dw-7-1234@mail.dunwell.test>"
    first, retried = build(), build(now=datetime(2026, 11, 21, tzinfo=UTC))
    assert first["Message-ID"] == retried["Message-ID"]
    assert build(key="dw-7-1235")["Message-ID"] == "<dw-7-1235@mail.dunwell.test>"


def test_the_text_part_is_the_rendered_body_plus_unlisted_links_and_the_way_to_stop():
    text = parsed(build()).get_body(("plain",)).get_content()
    assert text.startswith(BODY.rstrip())
    assert "- Invoice 1044 (80.00 USD): https://pay.test/1044" in text
    assert "https://pay.test/1043\n- Invoice" not in text.split("Pay online:")[1]
    assert "javascript:" not in text
    assert f"To stop these reminders from Acme Plumbing Ltd., open:\n{UNSUBSCRIBE}" in text


def test_the_html_part_escapes_keeps_paragraphs_and_links_addresses():
    html = parsed(build()).get_body(("html",)).get_content()
    assert "<p>Dear Bea &amp; co,</p>" in html
    assert "&lt;b&gt;late&lt;/b&gt;" in html and "<b>" not in html
    assert "<p>Our records show the following invoices are awaiting payment:</p>\n<ul>" in html
    paid_line = (
        "<li>Invoice 1043: 120.00 USD, due 2026-11-01 (19 days overdue) - "
        '<a href="https://pay.test/1043">Pay now</a></li>'
    )
    assert paid_line in html
    assert 'Terms: <a href="https://acme.test/terms">https://acme.test/terms</a>.<br>' in html
    assert '<li>Invoice 1044 (80.00 USD): <a href="https://pay.test/1044">Pay now</a></li>' in html
    assert "javascript:" not in html
    assert f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>: no more reminders from Acme' in html


def test_non_ascii_names_and_text_survive_the_trip():
    message = build(
        sender=Sender("Café Müller", "reminders@mail.dunwell.test"),
        body="Grüße, Zoë — 10 € offen\n",
    )
    raw = message.as_bytes()
    assert raw.isascii()
    again = parsed(message)
    assert again["From"].addresses[0].display_name == "Café Müller"
    assert "Grüße, Zoë — 10 € offen" in again.get_body(("plain",)).get_content()
    assert "Reply-To" not in again


def test_no_address_to_send_to_is_an_error():
    with pytest.raises(ValueError, match="no email address"):
        build(to="not an address")


def test_recipients_accepts_commas_and_semicolons():
    assert recipients("a@x.test; B <b@y.test>,c@z.test") == ["a@x.test", "b@y.test", "c@z.test"]
