"""User templates cannot burn CPU or memory: bounded operators, ranges, output, time budget."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from jinja2 import TemplateError

from core.db import session_scope
from core.db import utcnow
from rules.engine.messages import render_reminder
from rules.templates.render import RENDER_BUDGET_MS
from rules.templates.render import render
from rules.templates.render import template_error
from tests.connector.conftest import sign_in
from tests.rules.factories import book
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import simple_rules

POWER = "{{ 9**(9**8) > 1 }}"
NESTED_30000 = "{% for i in range(30000) %}{% for j in range(30000) %}{% endfor %}{% endfor %}"
NESTED_9999 = "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}"
# Cheap on the two sample invoices, far over budget for a customer with forty.
DATA_DEPENDENT = (
    "{% for a in invoices %}{% for b in invoices %}{% for c in invoices %}"
    "{% for d in range(400) %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
)


def checked_in_a_child(source: str, timeout: float = 30) -> tuple[str | None, float]:
    """template_error(source) in a separate interpreter, so a runaway template fails the test
    (by timing out) instead of hanging the suite."""
    code = (
        "import json, sys, time\n"
        "from rules.templates.render import template_error\n"
        "t = time.perf_counter()\n"
        "error = template_error(sys.argv[1], \"template 't' body\")\n"
        "print(json.dumps([error, time.perf_counter() - t]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, source],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    error, seconds = json.loads(done.stdout)
    return error, seconds


def test_a_huge_power_is_refused_at_once() -> None:
    error, seconds = checked_in_a_child(POWER)
    assert error == (
        "template error: template 't' body asks for too much: 9 ** 43046721 is too large a number"
    )
    assert seconds < 2


def test_nested_large_ranges_are_refused_at_once() -> None:
    error, seconds = checked_in_a_child(NESTED_30000)
    assert error is not None and "range() of 30,000 numbers (at most 10,000)" in error
    assert seconds < 2


def test_loops_that_output_nothing_still_stop_at_the_time_budget() -> None:
    started = time.perf_counter()
    error = template_error(NESTED_9999, "template 't' body")
    elapsed = time.perf_counter() - started
    assert error == (
        f"template error: template 't' body took longer than {RENDER_BUDGET_MS} ms to render; "
        "make its loops smaller"
    )
    assert RENDER_BUDGET_MS / 1000 <= elapsed < RENDER_BUDGET_MS / 1000 + 1.5


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ 'x' * 10**10 }}", "repeating 1 items 10,000,000,000 times"),
        ("{{ [1, 2] * 10**9 }}", "repeating 2 items"),
        ("{{ 10**5000 }}", "too large a number"),
        ("{% set n = 2**2000 %}{{ n * n * n }}", "a product is too large a number"),
        (
            "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}"
            "{{ d('x', 60) }}",
            "joining with ~ would be longer than 200,000 characters",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "a sum would be longer",
        ),
        ("{% set s = 'a' * 100000 %}{{ s|replace('a', s) }}", "the result of replace()"),
        ("{% set s = 'a' * 100000 %}{{ s.replace('a', s) }}", "the result of replace()"),
        ("{% set s = 'a' * 100000 %}{{ [s, s, s]|join }}", "the result of join()"),
        ("{{ 'x'|center(999999999) }}", "center() was given a width of 999,999,999"),
        ("{{ 'x'.ljust(10**9) }}", "ljust() was given a width of 1,000,000,000"),
        ("{{ '%0999999999d'|format(1) }}", "a format string asks for a width"),
        ("{{ '%*d' % (10**9, 1) }}", "a format string asks for a width"),
        ("{{ '{:>999999999}'.format(1) }}", "a format string asks for a width"),
        ("{{ '{:{}}'.format(1, 10**9) }}", "a format string asks for a width"),
        ("{% for i in range(5000) %}{{ 'x' * 100 }}{% endfor %}", "its output is longer than"),
    ],
)
def test_operations_that_multiply_size_are_refused_before_they_run(source, problem) -> None:
    started = time.perf_counter()
    error = template_error(source, "template 't' body")
    assert error is not None and problem in error, error
    assert "template 't' body asks for too much" in error
    assert time.perf_counter() - started < 1


def test_recursion_and_exponential_macros_end_as_template_errors() -> None:
    doubling = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    assert "took longer than" in template_error(doubling)
    endless = "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"
    assert template_error(endless).startswith("template error: RecursionError")
    assert template_error("{{ lipsum(10**6) }}").startswith("template error: 'lipsum' is undefined")


def test_ordinary_templates_keep_their_meaning() -> None:
    source = (
        "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }}{{ '.' if loop.last }}"
        "{% else %}none{% endfor %}|{% for x in [1, 2, 3]|select('odd') %}{{ loop.revindex }}"
        "{% endfor %}|{% for x in [] %}{% else %}empty{% endfor %}|{{ 2 ** 10 }} {{ 'ab' * 2 }}"
        " {{ 'a' ~ 1 }} {{ '%5.1f'|format(2.25) }} {{ '{:>4}'.format('x') }} {{ 7 % 3 }}"
    )
    assert render(source, {}) == "1/32/33/3.|21|empty|1024 abab a1   2.2    x 1"


def test_the_sandbox_is_immutable() -> None:
    assert "unsafe" in template_error("{% set xs = [1] %}{{ xs.append(2) }}")


def test_a_reminder_over_budget_is_a_template_error_naming_the_template() -> None:
    rules = simple_rules()
    rules["templates"]["t"]["body"] = DATA_DEPENDENT
    lines = [{"number": str(n), "balance": "10", "currency": "USD"} for n in range(40)]
    payload = {"template": "t", "customer": {"name": "C"}, "invoices": lines}
    with pytest.raises(TemplateError, match=r"template 't' body took longer than \d+ ms"):
        render_reminder(book(rules), payload, "Org", utcnow().date(), None)


def test_the_rule_set_check_shows_the_slow_template_at_its_field(client, session_factory) -> None:
    with session_scope(session_factory) as db:
        org_id = org_row(db).id
    sign_in(client, org_id)
    doc = simple_rules()
    doc["templates"]["t"]["body"] = NESTED_9999
    doc["templates"]["t7"]["subject"] = POWER
    answer = client.post(f"/api/orgs/{org_id}/rules/validate", json={"document": doc})
    assert answer.status_code == 422
    errors = answer.json["errors"]
    assert "template 't' body took longer than" in errors["templates.t.body"]
    assert "template 't7' subject asks for too much" in errors["templates.t7.subject"]


def test_a_template_slow_only_on_real_data_fails_in_preview_not_the_request(
    client, session_factory
) -> None:
    today = utcnow().date()
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=utcnow())
        customer_row(db, org, "C1")
        for n in range(40):
            invoice_row(db, org, f"I{n}", "C1", today - timedelta(days=1), 10)
        org_id = org.id
    sign_in(client, org_id)
    doc = simple_rules()
    doc["templates"]["t"]["body"] = DATA_DEPENDENT
    assert template_error(DATA_DEPENDENT) is None
    answer = client.post(f"/api/orgs/{org_id}/rules/preview", json={"document": doc})
    assert answer.status_code == 200
    (decision,) = answer.json["decisions"]
    assert "template 't' body took longer than" in decision["render_error"]
