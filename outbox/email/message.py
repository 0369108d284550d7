"""The email of one reminder: headers, a plain-text part and an HTML part made from it.

The plain text is the rendered template, as the business wrote it. The HTML part is the same
text, escaped, with its paragraphs and bulleted lines kept and its web addresses as links; an
invoice's online payment link becomes a "Pay now" link, and invoices whose link the template did
not mention are listed under the message. Both parts end with a link to stop the reminders, also
offered to mail clients as `List-Unsubscribe` with RFC 8058 one-click. The Message-ID is made from
the action's idempotency key, so a retried send carries the same id and can be recognised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from decimal import InvalidOperation
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import formataddr
from email.utils import getaddresses
from email.utils import make_msgid
from html import escape
from typing import Any

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}'\""
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# 7-bit clean (quoted-printable or base64 where needed): no server needs 8BITMIME for it.
POLICY = policy.default.clone(cte_type="7bit")


@dataclass(frozen=True)
class Sender:
    """Who a reminder is from, and where a reply goes."""

    name: str
    address: str
    reply_to: str = ""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


def message_id(key: str, domain: str) -> str:
    """`<dw-{org}-{action}@{domain}>` for the action whose idempotency key is `key`."""
    return f"<{key}@{domain}>"


def recipients(to: str) -> list[str]:
    """The addresses in a customer's email field ("a@x.com, b@y.com" or with semicolons)."""
    pairs = getaddresses([to.replace(";", ",")])
    return [address for _, address in pairs if "@" in address]


def build_reminder(
    *,
    sender: Sender,
    to: str,
    subject: str,
    body: str,
    invoices: Sequence[Mapping[str, Any]],
    key: str,
    unsubscribe_url: str,
    now: datetime,
) -> EmailMessage:
    """The whole message; raises ValueError when `to` holds no address."""
    addresses = recipients(to)
    if not addresses:
        raise ValueError(f"no email address to send to in {to!r}")
    message = EmailMessage(policy=POLICY)
    message["From"] = formataddr((_one_line(sender.name), sender.address))
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["To"] = ", ".join(addresses)
    message["Subject"] = _one_line(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(key, sender.domain)
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    unlisted = [line for line in _payable(invoices) if line["link"] not in body]
    message.set_content(_text(body, unlisted, sender.name, unsubscribe_url))
    pay_links = {line["link"] for line in _payable(invoices)}
    message.add_alternative(
        _html(subject, body, pay_links, unlisted, sender.name, unsubscribe_url), subtype="html"
    )
    return message


def build_test(*, sender: Sender, to: str, business: str, now: datetime) -> EmailMessage:
    """A short message that proves the settings work, sent from the email settings page."""
    message = EmailMessage(policy=POLICY)
    message["From"] = formataddr((_one_line(sender.name), sender.address))
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["To"] = to
    message["Subject"] = f"Test email from Dunwell for {_one_line(business)}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("dw-test", domain=sender.domain)
    message.set_content(
        f"This is a test from Dunwell's email settings for {business}.\n\n"
        f"Reminders to your customers will come from {message['From']}"
        + (f" and replies will go to {sender.reply_to}" if sender.reply_to else "")
        + ".\n"
    )
    return message


def _payable(invoices: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [line for line in invoices if _URL.fullmatch(str(line.get("link") or ""))]


def _invoice_label(line: Mapping[str, Any]) -> str:
    try:
        amount = f"{Decimal(str(line.get('balance'))):,.2f} {line.get('currency', '')}".strip()
    except InvalidOperation:
        amount = ""
    label = f"Invoice {line.get('number') or line.get('external_id') or ''}".strip()
    return f"{label} ({amount})" if amount else label


def _text(body: str, unlisted: list[Mapping[str, Any]], business: str, unsubscribe: str) -> str:
    parts = [body.rstrip()]
    if unlisted:
        lines = "\n".join(f"- {_invoice_label(line)}: {line['link']}" for line in unlisted)
        parts.append(f"Pay online:\n{lines}")
    parts.append(f"-- \nTo stop these reminders from {business}, open:\n{unsubscribe}")
    return "\n\n".join(parts) + "\n"


def _html(
    subject: str,
    body: str,
    pay_links: set[str],
    unlisted: list[Mapping[str, Any]],
    business: str,
    unsubscribe: str,
) -> str:
    blocks = [_block(p, pay_links) for p in _PARAGRAPH_BREAK.split(body.strip()) if p.strip()]
    if unlisted:
        items = "".join(
            f'<li>{escape(_invoice_label(line))}: <a href="{escape(line["link"])}">Pay now</a></li>'
            for line in unlisted
        )
        blocks.append(f"<p>Pay online:</p><ul>{items}</ul>")
    blocks.append(
        f'<hr><p><a href="{escape(unsubscribe)}">Unsubscribe</a>: '
        f"no more reminders from {escape(business)}</p>"
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{escape(_one_line(subject))}</title></head><body>\n"
        + "\n".join(blocks)
        + "\n</body></html>\n"
    )


def _block(paragraph: str, pay_links: set[str]) -> str:
    """A paragraph; its runs of "- " lines become lists, other lines keep their breaks."""
    html: list[str] = []
    text_run: list[str] = []
    items: list[str] = []
    for line in paragraph.strip("\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith(("- ", "* ")):
            if text_run:
                html.append("<p>" + "<br>\n".join(text_run) + "</p>")
                text_run = []
            items.append(f"<li>{_inline(stripped[2:], pay_links)}</li>")
            continue
        if items:
            html.append("<ul>" + "".join(items) + "</ul>")
            items = []
        text_run.append(_inline(line.rstrip(), pay_links))
    if text_run:
        html.append("<p>" + "<br>\n".join(text_run) + "</p>")
    if items:
        html.append("<ul>" + "".join(items) + "</ul>")
    return "\n".join(html)


def _inline(text: str, pay_links: set[str]) -> str:
    """Escaped text with its web addresses as links; a payment link reads "Pay now"."""
    out, position = [], 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(escape(text[position : match.start()]))
        label = "Pay now" if url in pay_links else url
        out.append(f'<a href="{escape(url)}">{escape(label)}</a>')
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())
