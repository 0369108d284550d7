"""What both providers' webhook parsers share: one bad event is set aside, not the delivery.

A validly signed delivery can still hold an event we cannot read: a field of the wrong type, a
timestamp out of range, an id that is not text, nesting a thousand levels deep. Such an event
becomes a ChangeNotice with `rejected` set to the reason (and whatever could be read of its
tenant and id), and the other events of the delivery are processed as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from providers.base import ChangeNotice
from providers.jsonbody import first_problem
from providers.jsonbody import text_problem

EVENT_DEPTH = 32
REJECTED = "rejected"


class BadEvent(ValueError):
    """One event of a delivery cannot be read; the message says why."""


def parse_each(
    events: Iterable[Any],
    parse_one: Callable[[Any], ChangeNotice | None],
    identify: Callable[[Any], tuple[Any, Any]],
) -> list[ChangeNotice]:
    """`parse_one` over `events`; an event it refuses with BadEvent becomes a rejected notice.

    `identify(event)` gives the (tenant, id) fields to keep on a rejected notice.
    """
    notices = []
    for event in events:
        try:
            notice = parse_one(checked(event))
        except BadEvent as exc:
            tenant, external_id = identify(event) if isinstance(event, dict) else (None, None)
            notice = rejected(str(exc), tenant, external_id, event)
        if notice is not None:
            notices.append(notice)
    return notices


def checked(event: Any) -> dict[str, Any]:
    """`event` if it is an object of sane depth holding storable text; BadEvent otherwise."""
    if not isinstance(event, dict):
        raise BadEvent(f"the event is a JSON {type(event).__name__}, not an object")
    problem = first_problem(event, EVENT_DEPTH)
    if problem is not None:
        path, what = problem
        raise BadEvent(f"{path or 'the event'} {what}")
    return event


def identifier(event: dict[str, Any], name: str) -> str:
    """The id field `name` as text: a non-empty string or a whole number, else BadEvent."""
    value = event.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise BadEvent(f"{name} must be a non-empty string, not {_shown(value)}")
    problem = text_problem(str(value))
    if problem:
        raise BadEvent(f"{name} {problem}")
    return str(value)


def rejected(reason: str, tenant: Any, external_id: Any, event: Any) -> ChangeNotice:
    """A notice that records why `event` was set aside; the same on every redelivery."""
    return ChangeNotice(
        tenant_external_id=readable(tenant),
        entity=None,
        external_id=readable(external_id),
        operation=REJECTED,
        occurred_at=None,
        dedupe_key="rejected:" + _fingerprint(reason, event),
        rejected=reason,
    )


def unreadable_body(body: bytes, reason: str) -> ChangeNotice:
    """A rejected notice for a whole delivery that is not the provider's JSON at all."""
    digest = hashlib.sha256(body).hexdigest()
    return ChangeNotice("", None, "", REJECTED, None, f"rejected:{digest}", rejected=reason)


def readable(value: Any, limit: int = 64) -> str:
    """Best-effort text of a scalar field for the record: escaped, cut to `limit` characters."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")[:limit]


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    return ascii(value)[:40]


def _fingerprint(reason: str, event: Any) -> str:
    """A hash of the reason and the event's top-level scalars (nested parts by type only)."""
    parts: list[Any]
    if isinstance(event, dict):
        parts = sorted(
            (ascii(k), ascii(v) if not isinstance(v, (dict, list)) else type(v).__name__)
            for k, v in event.items()
        )
    elif isinstance(event, list):
        parts = ["list", str(len(event))]
    else:
        parts = [type(event).__name__, ascii(event)[:200]]
    return hashlib.sha256(ascii([reason, parts]).encode()).hexdigest()
