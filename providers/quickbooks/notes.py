"""Editing QuickBooks note fields: appended notes and the credit-hold marker (pure).

QuickBooks has no credit-hold flag, so a hold is a first line in the customer's Notes:
"[CREDIT HOLD 2026-06-01] reason". Notes are capped (Customer.Notes 2000 characters,
Invoice.PrivateNote 4000); when a note would overflow, the oldest text goes and the hold line
stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

CUSTOMER_NOTES_MAX = 2000
PRIVATE_NOTE_MAX = 4000
_HOLD = re.compile(r"\A\[CREDIT HOLD (\d{4}-\d{2}-\d{2})\] ?([^\n]*)(?:\n|\Z)")


@dataclass(frozen=True)
class Hold:
    since: str
    reason: str


def split_hold(notes: str) -> tuple[Hold | None, str]:
    """The hold marker at the top of `notes` (if any) and the rest of the text."""
    found = _HOLD.match(notes)
    if not found:
        return None, notes
    return Hold(found.group(1), found.group(2).strip()), notes[found.end() :]


def hold_line(on: date, reason: str) -> str:
    return f"[CREDIT HOLD {on.isoformat()}] {_one_line(reason)}".rstrip()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def set_hold(notes: str, on: date, reason: str, limit: int = CUSTOMER_NOTES_MAX) -> str | None:
    """Notes with the hold marker in front; None when the same hold is already there."""
    hold, rest = split_hold(notes)
    if hold is not None and hold.reason == _one_line(reason):
        return None
    head = hold_line(on, reason)[:limit]
    return join_capped(head, rest, limit)


def clear_hold(notes: str) -> str | None:
    """Notes without the hold marker; None when there was no hold."""
    hold, rest = split_hold(notes)
    return None if hold is None else rest


def append_note(notes: str, text: str, limit: int) -> str | None:
    """`notes` with `text` appended on a new line; None when `text` is already the last note.

    A hold marker at the top of customer notes is kept whatever gets trimmed.
    """
    text = text.strip()
    if not text or notes.rstrip().endswith(text):
        return None
    hold, rest = split_hold(notes)
    head = "" if hold is None else hold_line(date.fromisoformat(hold.since), hold.reason)
    body = f"{rest.rstrip()}\n{text}" if rest.strip() else text
    return join_capped(head, body, limit)


def join_capped(head: str, body: str, limit: int) -> str:
    """`head` + newline + the newest part of `body`, at most `limit` characters."""
    budget = limit - (len(head) + 1 if head else 0)
    if len(body) > budget:
        body = _newest(body, budget)
    if not head:
        return body
    return f"{head}\n{body}" if body else head


def _newest(body: str, budget: int) -> str:
    if budget <= 0:
        return ""
    tail = body[-budget:]
    cut = tail.find("\n")
    # Drop the partial oldest line unless the newest note alone fills the budget.
    if 0 <= cut < len(tail) - 1:
        return tail[cut + 1 :]
    last = body.rsplit("\n", 1)[-1]
    return last[:budget]
