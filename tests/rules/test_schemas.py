"""Rule sets are validated with precise errors and round-trip through export and import."""

from __future__ import annotations

import copy

import pytest

from rules.ruleset.book import compile_book
from rules.ruleset.defaults import starter
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document
from tests.rules.factories import simple_rules


def errors(doc) -> dict[str, str]:
    with pytest.raises(RuleSetInvalid) as caught:
        validate_document(doc)
    return caught.value.errors


def test_the_starter_rule_set_is_valid_and_normalised() -> None:
    doc = validate_document(starter())
    assert validate_document(doc) == doc
    assert doc["invoice_delivery"] == {"enabled": False, "after_days": 0}
    assert doc["unapplied_credit"] == {"pause_when_covered": True}
    book = compile_book(doc)
    assert (book.delivery_after, book.pause_when_credit_covers) == (None, True)
    assert [s.offset for s in book.policies["standard"].steps] == [-3, 0, 7, 30]
    assert [i.offset for i in book.policies["standard"].schedule][-3:] == [44, 58, 72]


def test_a_round_trip_keeps_every_detail() -> None:
    doc = simple_rules(
        credit_hold={
            "place_when_any": [{"fact": "customer_total_overdue", "op": "gt", "value": 1000}]
        },
        discounts={"early_payment": {"percent": "2.5", "days": 10}},
    )
    once = validate_document(doc)
    assert once["credit_hold"]["place_when_any"][0]["value"] == "1000"
    assert once["discounts"]["early_payment"]["percent"] == "2.5"
    assert validate_document(copy.deepcopy(once)) == once


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d.pop("name"), "name", "required"),
        (lambda d: d.update(colour="red"), "colour", "not a known field"),
        (
            lambda d: d["policies"][0]["steps"][1].update(offset_days="7"),
            "policies[0].steps[1].offset_days",
            "integer",
        ),
        (
            lambda d: d["policies"][0]["steps"][1].update(offset_days=-2),
            "policies[0].steps[1].offset_days",
            "in order",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(repeat={"every_days": 7, "limit": 2}),
            "policies[0].steps[0].repeat",
            "last step",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(key="S 0"),
            "policies[0].steps[0].key",
            "lowercase",
        ),
        (
            lambda d: d["policies"][0]["steps"][1].update(key="s0"),
            "policies[0].steps[1].key",
            "already used",
        ),
        (
            lambda d: d["policies"][0]["steps"][0]["actions"][0].update(template="nope"),
            "policies[0].steps[0].actions[0].template",
            "'nope'",
        ),
        (
            lambda d: d["policies"][0]["steps"][0]["actions"].append(
                {"type": "task", "text": "call"}
            ),
            "policies[0].steps[0].actions[1].assignee",
            "named person",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(
                conditions=[{"fact": "invoice_balance", "op": "in", "value": "5"}]
            ),
            "policies[0].steps[0].conditions[0].op",
            "not an operator",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(
                conditions=[{"fact": "currency", "op": "eq", "value": "usd"}]
            ),
            "policies[0].steps[0].conditions[0].value",
            "currency codes",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(
                conditions=[{"fact": "invoice_amount", "op": "gt", "value": "-1"}]
            ),
            "policies[0].steps[0].conditions[0].value",
            "zero or more",
        ),
        (lambda d: d.update(default_policy="missing"), "default_policy", "not defined"),
        (
            lambda d: d["templates"]["t"].update(body="{% for i in invoices %}"),
            "templates.t.body",
            "syntax error",
        ),
        (
            lambda d: d["templates"]["t"].update(subject="{{ customer.nmae }}"),
            "templates.t.subject",
            "nmae",
        ),
        (
            lambda d: d["templates"]["t"].update(body="{{ ''.__class__.__mro__ }}"),
            "templates.t.body",
            "unsafe",
        ),
        (
            lambda d: d.update(
                limits={"caps": [{"messages": 1, "days": 3}, {"messages": 2, "days": 3}]}
            ),
            "limits.caps[1].days",
            "3 days",
        ),
        (
            lambda d: d.update(limits={"quiet_hours": {"start": "25:00", "end": "08:00"}}),
            "limits.quiet_hours.start",
            "HH:MM",
        ),
        (
            lambda d: d.update(
                credit_hold={
                    "place_when_any": [{"fact": "invoice_balance", "op": "gt", "value": "1"}]
                }
            ),
            "credit_hold.place_when_any[0].fact",
            "tests the customer",
        ),
        (
            lambda d: d.update(
                credit_hold={
                    "place_when_any": [
                        {
                            "fact": "customer_total_overdue",
                            "op": "gt",
                            "value": "1",
                            "currency": "nzd",
                        }
                    ]
                }
            ),
            "credit_hold.place_when_any[0].currency",
            "three-letter",
        ),
        (
            lambda d: d["policies"][0]["steps"][0].update(
                conditions=[
                    {"fact": "invoice_balance", "op": "gt", "value": "5", "currency": "USD"}
                ]
            ),
            "policies[0].steps[0].conditions[0].currency",
            "not a known field",
        ),
        (
            lambda d: d.update(unapplied_credit={"pause_when_covered": "sometimes"}),
            "unapplied_credit.pause_when_covered",
            "must be true or false",
        ),
        (
            lambda d: d.update(invoice_delivery={"enabled": True, "after_days": -1}),
            "invoice_delivery.after_days",
            "whole number of days from 0 to 365",
        ),
        (
            lambda d: d.update(invoice_delivery={"enabled": True, "after_days": "2"}),
            "invoice_delivery.after_days",
            "Not a valid integer",
        ),
        (
            lambda d: d.update(invoice_delivery={"enabled": "maybe"}),
            "invoice_delivery.enabled",
            "must be true or false",
        ),
        (
            lambda d: d.update(invoice_delivery={"enabled": True, "days": 2}),
            "invoice_delivery.days",
            "not a known field",
        ),
        (
            lambda d: d.update(discounts={"early_payment": {"percent": "2"}}),
            "discounts.early_payment.days",
            "go together",
        ),
        (
            lambda d: d.update(discounts={"early_payment": {"percent": "120", "days": 3}}),
            "discounts.early_payment.percent",
            "",
        ),
        (
            lambda d: d.update(
                segments=[
                    {
                        "key": "x",
                        "policy": "std",
                        "match": {"billed_12m_min": "10", "billed_12m_max": "5"},
                    }
                ]
            ),
            "segments[0].match.billed_12m_max",
            "less than",
        ),
    ],
)
def test_invalid_input_names_the_field_and_the_problem(change, path, words) -> None:
    doc = simple_rules()
    change(doc)
    found = errors(doc)
    assert path in found, found
    assert words in found[path]


def test_a_document_must_be_an_object() -> None:
    assert errors(["not", "a", "rule set"]) == {"": "a rule set must be a JSON object"}


def test_credit_hold_thresholds_name_their_currency_and_old_ones_stay_valid() -> None:
    per_currency = [
        {"fact": "customer_total_overdue", "op": "gt", "value": 1000, "currency": "USD"},
        {"fact": "customer_total_overdue", "op": "gt", "value": "1500", "currency": "NZD"},
        {"fact": "customer_total_overdue", "op": "gt", "value": "900"},
    ]
    doc = validate_document(simple_rules(credit_hold={"place_when_any": per_currency}))
    assert doc["credit_hold"]["place_when_any"] == [
        {"fact": "customer_total_overdue", "op": "gt", "value": "1000", "currency": "USD"},
        {"fact": "customer_total_overdue", "op": "gt", "value": "1500", "currency": "NZD"},
        {"fact": "customer_total_overdue", "op": "gt", "value": "900"},  # the home currency
    ]
    assert validate_document(copy.deepcopy(doc)) == doc
    held = compile_book(doc).hold_conditions
    assert [c.applies_in("NZD", "USD") for c in held] == [False, True, False]
    assert [c.applies_in("USD", "USD") for c in held] == [True, False, True]


def test_field_and_cross_field_problems_are_listed_in_one_pass() -> None:
    doc = copy.deepcopy(starter())
    doc["name"] = ""
    doc["default_policy"] = "nope"
    doc["limits"]["quiet_hours"] = {"start": "25:00", "end": "07:00"}
    doc["policies"][0]["steps"][1]["actions"][0]["template"] = "missing"
    found = errors(doc)
    assert set(found) == {
        "name",
        "default_policy",
        "limits.quiet_hours.start",
        "policies[0].steps[1].actions[0].template",
    }
    assert "not defined" in found["default_policy"]


def test_a_part_that_failed_is_not_checked_across_with_misleading_paths() -> None:
    doc = copy.deepcopy(starter())
    doc["policies"][0]["steps"][0]["offset_days"] = "soon"  # the policies part fails
    found = errors(doc)
    assert "policies[0].steps[0].offset_days" in found
    assert "default_policy" not in found  # not "refers to an undefined policy"


def test_a_reminder_may_go_by_the_providers_own_email_and_only_a_reminder_has_a_channel() -> None:
    doc = simple_rules()
    doc["policies"][0]["steps"][0]["actions"] = [
        {"type": "reminder", "template": "t", "channel": "provider"},
        {"type": "note", "text": "chased", "channel": "provider"},
    ]
    assert errors(doc) == {
        "policies[0].steps[0].actions[1].channel": "only a reminder has a channel"
    }
    doc["policies"][0]["steps"][0]["actions"].pop()
    valid = validate_document(doc)
    assert valid["policies"][0]["steps"][0]["actions"][0]["channel"] == "provider"
    assert "channel" not in valid["policies"][0]["steps"][1]["actions"][0]  # email, the default
    book = compile_book(valid)
    assert [a.channel for s in book.policies["std"].steps for a in s.actions] == [
        "provider",
        "email",
        "email",
    ]
