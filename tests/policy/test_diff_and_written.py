"""The difference between two versions in words, and the written policy of a rule set."""

from __future__ import annotations

from policy.diff import diff
from policy.written import sections
from rules.ruleset.defaults import starter
from rules.ruleset.schema import validate_document
from tests.policy.test_forms import rich


def test_the_same_version_has_no_difference():
    assert diff(rich(), rich()) == []


def test_steps_templates_and_thresholds_that_changed_are_named_in_words():
    old = validate_document(starter())
    new = rich()
    new["policies"][0]["steps"][1]["offset_days"] = 1
    new["policies"][0]["steps"].pop(0)
    new["templates"]["firm"]["subject"] = "Final: pay {{ organization.name }}"
    new["templates"]["gentle"] = {"subject": "Hi", "body": "Hello {{ customer.name }}"}
    changes = {(c.section, c.summary): c.lines for c in diff(old, new)}
    policy = "Policy “Standard”"
    assert (policy, "Removed “Due soon”") in changes
    assert changes[(policy, "Changed “Due today”")] == [
        "was: On the due date: send the reminder “friendly” by email.",
        "now: 1 day after the due date: send the reminder “friendly” by email.",
    ]
    overdue = changes[(policy, "Changed “A week overdue”")]
    assert "the invoice balance is at least 100.50" in overdue[1]
    assert "ask jo@example.com to: “Call them”" in overdue[1]
    assert changes[("Templates", "Added template “gentle”")] == ["Hi"]
    assert (
        "subject now: Final: pay {{ organization.name }}"
        in (changes[("Templates", "Changed template “firm”")])
    )
    assert changes[("Settings", "Credit hold changed")] == [
        "was: none",
        "now: hold when the customer's total overdue in USD is at least 5000 or the days the "
        "customer's oldest invoice is overdue is more than 60 (reason: Over the limit)",
    ]
    assert changes[("Settings", "Early-payment discount changed")][1] == (
        "now: 2% off if paid within 10 days"
    )
    assert ("Segments", "Added “Key accounts”") in changes
    assert ("Settings", "Quiet hours changed") in changes


def test_the_written_policy_says_when_what_holds_discounts_limits_and_disputes():
    written = {s.title: s for s in sections(rich())}
    assert list(written) == [
        "When we remind you",
        "What our reminders say",
        "Credit holds",
        "Discounts and payment plans",
        "How often we contact you",
        "Disputes",
    ]
    when = written["When we remind you"]
    assert "3 days before the due date: send the reminder “friendly” by email." in (
        " ".join(when.paragraphs)
    )
    assert when.items[0].startswith("Customers tagged vip or key, billing in USD")
    example = written["What our reminders say"].examples[0]
    assert example[0] == "friendly" and "Dear Acme Corp" in example[2]
    holds = written["Credit holds"].items
    assert "The customer's total overdue in USD is at least 5000." in holds
    assert any(
        "2% off if paid within 10 days" in i for i in written["Discounts and payment plans"].items
    )
    limits = written["How often we contact you"].items
    assert "Only on Monday, Wednesday, Friday." in limits
    assert not any("Never between" in i for i in limits)  # no quiet hours in this one
