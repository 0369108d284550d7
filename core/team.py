"""How a team member is named where Dunwell stores one (a customer's owner, a task's owner, who
finished a task): the one place to change when members become user accounts.

Until then a member is their email address, as typed (trimmed, lower-cased). A rule's task
names "the person it is for" in free text; that text is kept as it is, so nothing is lost.
"""

from __future__ import annotations

import re

MAX_LENGTH = 300
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class NotAMember(ValueError):
    """What a form named is not a team member (a message a person can act on)."""


def member_from_form(text: str | None) -> str:
    """The stored name of the member a form names ("" for nobody); raises NotAMember."""
    value = (text or "").strip()
    if not value:
        return ""
    if len(value) > MAX_LENGTH or not _EMAIL.match(value):
        raise NotAMember(f"“{value[:60]}” is not an email address; name a team member by email")
    return value.lower()


def member_from_rule(assignee: str | None) -> str:
    """The owner of a task a rule made: the rule's assignee, as written."""
    value = (assignee or "").strip()[:MAX_LENGTH]
    return value.lower() if _EMAIL.match(value) else value


def same_member(stored: str, other: str | None) -> bool:
    """Whether `other` names the member `stored` names (team names are matched ignoring case and
    surrounding spaces; no name matches nobody)."""
    return bool(other) and stored.strip().lower() == (other or "").strip().lower()


def label(stored: str | None) -> str:
    """How a stored member reads on a page."""
    return stored or "nobody"
