"""Answer key, dunning: steps by due date, consolidation, closed documents, partial payments,
catch-up after missed runs, repeats."""

from __future__ import annotations

import pytest

from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document
from tests.rules.answer_key import AS_OF
from tests.rules.answer_key import BEFORE_DUE
from tests.rules.answer_key import C1
from tests.rules.answer_key import DAY
from tests.rules.answer_key import Case
from tests.rules.answer_key import P
from tests.rules.answer_key import R
from tests.rules.answer_key import ago
from tests.rules.answer_key import detail
from tests.rules.answer_key import fired
from tests.rules.answer_key import reminder
from tests.rules.answer_key import run
from tests.rules.factories import customer
from tests.rules.factories import invoice
from tests.rules.factories import simple_rules

CASES = [
    Case(
        "due today fires the first step",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
    ),
    Case("not yet due: nothing", [customer("C1", invoice("I1", AS_OF + 3 * DAY))], []),
    Case(
        "one reminder per customer, the highest step's template leads",
        [customer("C1", invoice("I1", ago(7)), invoice("I2", AS_OF))],
        [reminder("s7", "t7", ["I1", "I2"])],
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "paid invoice is never chased",
        [customer("C1", invoice("I1", ago(7), balance=0, status="paid"))],
        [],
    ),
    Case(
        "voided invoice is never chased",
        [customer("C1", invoice("I1", ago(7), status="voided"))],
        [],
    ),
    Case(
        "deleted invoice is never chased", [customer("C1", invoice("I1", ago(7), deleted=True))], []
    ),
    Case(
        "merged-away customer is never chased",
        [customer("C1", invoice("I1", AS_OF), merged_into="C9")],
        [],
        suppressed=[("I1", "*", "merged")],
    ),
    Case(
        "partly paid invoice keeps its step by its due date",
        [customer("C1", invoice("I1", ago(7), total=100, balance=40))],
        [reminder("s7", "t7", ["I1"])],
        firings={"I1": fired(("s0", 0, 7))},
    ),
    Case(
        "a missed run catches up one step, not the latest",
        [customer("C1", invoice("I1", ago(10)))],
        [reminder("s0", "t", ["I1"])],
    ),
    Case(
        "never two steps of one invoice on one day",
        [customer("C1", invoice("I1", ago(10)))],
        [],
        firings={"I1": fired(("s0", 0, 0))},
    ),
    Case(
        "the next run after catching up sends the next step",
        [customer("C1", invoice("I1", ago(10)))],
        [reminder("s7", "t7", ["I1"])],
        firings={"I1": fired(("s0", 0, 1))},
    ),
    Case(
        "catch_up latest_step jumps to the step due now",
        [customer("C1", invoice("I1", ago(10)))],
        [reminder("s7", "t7", ["I1"])],
        rules={
            **simple_rules(),
            "policies": [dict(simple_rules()["policies"][0], catch_up="latest_step")],
        },
    ),
    Case(
        "steps due before the rules were activated are not walked through",
        [customer("C1", invoice("I1", ago(10)))],
        [reminder("s7", "t7", ["I1"])],
        since=ago(1),
    ),
    Case(
        "a before-due step fires while the invoice is not yet due",
        [customer("C1", invoice("I1", AS_OF + 2 * DAY))],
        [reminder("soon", "t", ["I1"])],
        rules=BEFORE_DUE,
    ),
    Case(
        "a due-on-receipt invoice never gets the before-due step",
        [customer("C1", invoice("I1", AS_OF, issue_date=AS_OF))],
        [reminder("s0", "t", ["I1"])],
        rules=BEFORE_DUE,
    ),
    Case(
        "an invoice first seen overdue never gets the before-due step",
        [customer("C1", invoice("I1", ago(3)))],
        [reminder("s0", "t", ["I1"])],
        rules=BEFORE_DUE,
    ),
    Case(
        "a before-due step still owed on the due date is passed over",
        [customer("C1", invoice("I1", AS_OF))],
        [reminder("s0", "t", ["I1"])],
        rules=BEFORE_DUE,
        since=ago(30),
    ),
    Case(
        "the last step repeats",
        [customer("C1", invoice("I1", ago(21)))],
        [("reminder", R, "s14", C1, P, ("t7", ("I1",), (), ()))],
        firings={"I1": fired(("s0", 0, 21), ("s7", 0, 14), ("s14", 0, 7))},
    ),
    Case(
        "repeats stop at their limit",
        [customer("C1", invoice("I1", ago(40)))],
        [],
        firings={
            "I1": fired(
                ("s0", 0, 40), ("s7", 0, 33), ("s14", 0, 26), ("s14", 1, 19), ("s14", 2, 12)
            )
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_answer_key(case: Case) -> None:
    result = run(case)
    got = [(d.kind, d.rule, d.step, d.target, d.period, detail(d)) for d in result.decisions]
    assert got == case.expect
    assert [(s.target, s.step, s.pause) for s in result.suppressed] == case.suppressed
    if case.scheduled_for is not None:
        assert result.decisions[0].scheduled_for == case.scheduled_for
    elif case.expect and case.expect[0][0] == "reminder":
        assert result.decisions[0].scheduled_for == case.now


def test_evaluation_is_deterministic() -> None:
    for case in CASES:
        first, second = run(case), run(case)
        assert [d.as_dict() for d in first.decisions] == [d.as_dict() for d in second.decisions]


def test_the_leading_steps_channel_says_how_the_consolidated_reminder_goes() -> None:
    rules = simple_rules()
    rules["policies"][0]["steps"][1]["actions"][0]["channel"] = "provider"
    case = Case(
        "two invoices, the one at the provider-channel step leads",
        [customer("C1", invoice("I1", ago(7)), invoice("I2", AS_OF))],
        [reminder("s7", "t7", ["I1", "I2"])],
        rules=rules,
        firings={"I1": fired(("s0", 0, 7))},
    )
    (decision,) = run(case).decisions
    assert decision.payload["channel"] == "provider"
    default = Case("due today", [customer("C1", invoice("I1", AS_OF))], [])
    assert run(default).decisions[0].payload["channel"] == "email"


def test_a_step_may_be_for_one_segment_only() -> None:
    rules = simple_rules()
    rules["segments"] = [{"key": "vip", "policy": "std", "match": {"tags_any": ["vip"]}}]
    rules["policies"][0]["steps"][0]["conditions"] = [
        {"fact": "segment", "op": "ne", "value": "vip"}
    ]
    ordinary = Case("not in the segment", [customer("C1", invoice("I1", AS_OF))], [], rules=rules)
    assert [d.step for d in run(ordinary).decisions] == ["s0"]
    vip = customer("C1", invoice("I1", AS_OF), tags=frozenset({"vip"}))
    assert run(Case("in the segment", [vip], [], rules=rules)).decisions == []


def test_a_segment_condition_names_a_segment_that_exists() -> None:
    rules = simple_rules()
    rules["policies"][0]["steps"][0]["conditions"] = [
        {"fact": "segment", "op": "in", "value": ["vip", "Bad Key"]}
    ]
    with pytest.raises(RuleSetInvalid) as refused:
        validate_document(rules)
    assert "segment" in refused.value.errors["policies[0].steps[0].conditions[0].value"]
    rules["policies"][0]["steps"][0]["conditions"][0]["value"] = ["vip"]
    with pytest.raises(RuleSetInvalid) as unknown:
        validate_document(rules)
    assert (
        "which is not defined" in unknown.value.errors["policies[0].steps[0].conditions[0].value"]
    )
