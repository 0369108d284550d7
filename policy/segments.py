"""How many customers each segment of a rule set takes today (the first segment a customer
matches chooses their policy, so a customer is counted once, under that segment)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.db import utcnow
from core.deadline import Deadline
from core.deadline import TimeLimitExceeded
from core.models import Organization
from rules.engine.dunning import segment_matches
from rules.engine.timing import local_date
from rules.load import load_customers
from rules.load import load_facts
from rules.ruleset.book import compile_book

DEFAULT = ""  # the count of customers no segment takes (they follow the default policy)


def segment_counts(
    session: Session, org: Organization, document: dict[str, Any], deadline: Deadline
) -> tuple[dict[str, int], str | None]:
    """{segment key: customers, DEFAULT: the rest}, or ({}, why not) past the time limit."""
    book = compile_book(document)
    if not book.segments:  # everyone follows the default policy: no behaviour to compute
        return {DEFAULT: len(load_customers(session, org.id, None))}, None
    now = utcnow()
    try:
        facts = load_facts(session, org, local_date(now, org.timezone), now, book)
        deadline.check()
    except TimeLimitExceeded as exc:
        return {}, str(exc)
    counts = {segment.key: 0 for segment in book.segments}
    counts[DEFAULT] = 0
    for customer in facts.customers.values():
        chosen = next((s.key for s in book.segments if segment_matches(s, customer)), DEFAULT)
        counts[chosen] += 1
    return counts, None
