"""Hypothesis strategies for every JSON API body: mostly well-formed, often with one part
replaced by something hostile (tests.hostile), naming the seeded customer C1 and invoices I1,
I2 (tests.rules.test_api.seed) so that well-formed bodies reach the database."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from rules.pauses.models import DisputeReason
from rules.ruleset.defaults import starter
from tests.hostile import HOSTILE_DATES
from tests.hostile import maybe
from tests.hostile import mutated
from tests.rules.factories import simple_rules

TODAY = date.today()
CUSTOMERS = st.sampled_from(["C1", "C1", "C2", "NOPE"])
INVOICES = st.sampled_from(["I1", "I2", "NOPE"])
FUTURE = st.dates(TODAY + timedelta(days=1), TODAY + timedelta(days=400)).map(date.isoformat)
PAST = st.dates(TODAY - timedelta(days=400), TODAY).map(date.isoformat)
DAYS = st.one_of(FUTURE, PAST, HOSTILE_DATES)
AMOUNTS = st.one_of(
    st.decimals(0, 10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.integers(0, 10**6),
)
NOTES = st.text(max_size=200)
TEMPLATES = st.sampled_from(
    [
        "{% for i in invoices %}{{ i.number }} {{ i.balance|money }}{% endfor %}",
        "Dear {{ customer.name }}",
        "{{ 9**(9**8) > 1 }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ invoice.nubmer }}",
        "{% for %}",
        "{{ 1 / 0 }}",
    ]
)


def _rule_set(base: dict[str, Any], subject: str, body: str) -> dict[str, Any]:
    key = next(iter(base["templates"]))
    base["templates"][key] = {"subject": subject, "body": body}
    return base


RULE_SETS = st.one_of(
    st.builds(simple_rules),
    st.builds(starter),
    st.builds(_rule_set, st.builds(simple_rules), st.just("Reminder"), TEMPLATES),
)


def documents() -> st.SearchStrategy[Any]:
    return st.one_of(RULE_SETS, mutated(RULE_SETS))


def _export(document: Any) -> dict[str, Any]:
    return {"format": "dunwell.rules/1", "name": "x", "version": 1, "rules": document}


def validate_bodies() -> st.SearchStrategy[Any]:
    wrapped = st.builds(lambda d: {"document": d}, documents())
    return st.one_of(wrapped, documents(), st.builds(_export, documents()), mutated(wrapped))


def version_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {"document": documents()},
        optional={"activate": st.booleans(), "note": NOTES, "created_by": NOTES},
    )
    return st.one_of(good, mutated(good))


def import_bodies() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(_export, documents()), documents(), mutated(st.builds(_export, RULE_SETS))
    )


def preview_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {},
        optional={
            "document": RULE_SETS,
            "version": st.integers(1, 3),
            "as_of": st.one_of(FUTURE, PAST),
        },
    )
    return st.one_of(good, mutated(good))


def backtest_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {},
        optional={
            "document": RULE_SETS,
            "version": st.integers(1, 3),
            "months": st.integers(1, 2),
            "end": PAST,
        },
    )
    return st.one_of(good, mutated(good))


def dispute_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {"invoice": INVOICES, "reason": st.sampled_from(sorted(DisputeReason.ALL))},
        optional={"note": NOTES, "opened_on": PAST},
    )
    return st.one_of(good, mutated(good))


def close_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries({}, optional={"resolution": NOTES, "closed_on": DAYS})
    return st.one_of(good, mutated(good))


def promise_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {"customer": CUSTOMERS, "until": FUTURE},
        optional={
            "invoices": st.lists(INVOICES, max_size=3),
            "amount": maybe(AMOUNTS),
            "note": NOTES,
        },
    )
    return st.one_of(good, mutated(good))


def plan_bodies() -> st.SearchStrategy[Any]:
    instalments = st.lists(
        st.fixed_dictionaries({"due_on": FUTURE, "amount": AMOUNTS}), min_size=1, max_size=4
    ).map(lambda items: sorted(items, key=lambda i: i["due_on"]))
    good = st.fixed_dictionaries(
        {
            "customer": CUSTOMERS,
            "invoices": st.lists(INVOICES, min_size=1, max_size=3),
            "instalments": instalments,
        },
        optional={"note": NOTES},
    )
    return st.one_of(good, mutated(good))


def profile_bodies() -> st.SearchStrategy[Any]:
    good = st.fixed_dictionaries(
        {},
        optional={
            "tags": st.lists(st.text(min_size=1, max_size=10), max_size=4),
            "do_not_contact": st.booleans(),
            "do_not_contact_reason": NOTES,
            "credit_hold": st.booleans(),
            "credit_hold_reason": NOTES,
        },
    )
    return st.one_of(good, mutated(good))
