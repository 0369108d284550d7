"""Forms as a view of the rule-set document: every part of a valid document, shown in its form
and sent back unchanged, is the same document; what a person types becomes the document the
JSON view would hold; errors find their way back to the field that made them."""

from __future__ import annotations

import copy

import pytest
from werkzeug.datastructures import MultiDict

from policy import forms
from rules.ruleset.defaults import starter
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document


def rich() -> dict:
    """The starter policy with a bit of everything the forms edit."""
    doc = starter()
    doc["segments"] = [
        {"key": "key-accounts", "name": "Key accounts", "policy": "standard",
         "match": {"tags_any": ["vip", "key"], "currencies": ["USD"], "billed_12m_min": "50000",
                   "billed_12m_max": None, "avg_days_late_min": None, "avg_days_late_max": 30}},
    ]  # fmt: skip
    step = doc["policies"][0]["steps"][2]
    step["conditions"] = [
        {"fact": "invoice_balance", "op": "gte", "value": "100.50"},
        {"fact": "currency", "op": "in", "value": ["USD", "EUR"]},
        {"fact": "overdue_invoice_count", "op": "gt", "value": 2},
    ]
    step["actions"] += [
        {"type": "task", "text": "Call them", "assignee": "jo@example.com", "on": "customer"},
        {"type": "credit_hold"},
    ]
    doc["discounts"] = {
        "early_payment": {"percent": "2", "days": 10, "use_invoice_terms": False,
                          "offer_in_reminders": True, "settle_short_payments": False},
        "settlement_offers": [{"key": "old-debt", "min_days_overdue": 90, "percent": "5",
                               "valid_days": 14, "min_balance": "100", "template": "firm"}],
    }  # fmt: skip
    doc["credit_hold"] = {
        "place_when_any": [
            {"fact": "customer_total_overdue", "op": "gte", "value": "5000", "currency": "USD"},
            {"fact": "oldest_overdue_days", "op": "gt", "value": 60},
        ],
        "reason": "Over the limit",
    }
    doc["limits"]["quiet_hours"] = None
    doc["limits"]["business_days"] = ["mon", "wed", "fri"]
    doc["limits"]["approve_runs_over"] = None
    doc["invoice_delivery"] = {"enabled": True, "after_days": 2}
    doc["policies"][0]["steps"][2]["actions"][0]["channel"] = "provider"
    return validate_document(doc)


def form(data: dict) -> MultiDict:
    return MultiDict(
        [(k, item) for k, v in data.items() for item in (v if isinstance(v, list) else [v])]
    )


@pytest.mark.parametrize("index", range(4))
def test_each_step_round_trips_through_its_form(index):
    doc = rich()
    step = doc["policies"][0]["steps"][index]
    back = forms.step_from_form(form(forms.step_to_form(step)), step["key"])
    doc2 = copy.deepcopy(doc)
    doc2["policies"][0]["steps"][index] = back
    assert validate_document(doc2) == doc


def test_segments_and_settings_round_trip_through_their_forms():
    doc = rich()
    segment = doc["segments"][0]
    doc2 = copy.deepcopy(doc)
    doc2["segments"][0] = forms.segment_from_form(
        form(forms.segment_to_form(segment)), "key-accounts"
    )
    assert validate_document(doc2) == doc
    shown = forms.settings_to_form(doc)
    shown["credit_hold.place_when_any.rows"] = "3"
    assert validate_document(forms.settings_from_form(form(shown), doc)) == doc


def test_what_a_person_types_is_the_document_the_json_view_holds():
    typed = form({
        "name": "Final notice", "timing": "after", "days": " 45 ",
        "conditions[0].fact": "customer_total_overdue", "conditions[0].op": "gt",
        "conditions[0].value": "1,200.00",
        "conditions[1].fact": "currency", "conditions[1].op": "not_in",
        "conditions[1].value": "usd, eur",
        "reminder": "on", "reminder.template": "firm",
        "note": "on", "note.text": "Final notice sent", "note.on": "customer",
        "repeat.every_days": "7", "repeat.limit": "3",
    })  # fmt: skip
    step = forms.step_from_form(typed, "final")
    assert step == {
        "key": "final", "name": "Final notice", "offset_days": 45,
        "conditions": [
            {"fact": "customer_total_overdue", "op": "gt", "value": "1200.00"},
            {"fact": "currency", "op": "not_in", "value": ["USD", "EUR"]},
        ],
        "actions": [{"type": "reminder", "template": "firm"},
                    {"type": "note", "text": "Final notice sent", "on": "customer"}],
        "repeat": {"every_days": 7, "limit": 3},
    }  # fmt: skip
    before = forms.step_from_form(form({"timing": "before", "days": "3", "reminder": "on"}), "k")
    assert before["offset_days"] == -3
    on = forms.step_from_form(form({"timing": "on", "days": "9", "reminder": "on"}), "k")
    assert on["offset_days"] == 0


def test_errors_come_back_to_the_field_that_made_them():
    doc = starter()
    typed = form({"timing": "after", "days": "soon", "note": "on", "task": "on",
                  "task.text": "Call", "task.assignee": ""})  # fmt: skip
    step = forms.step_from_form(typed, "overdue-7")
    doc["policies"][0]["steps"][2] = step
    with pytest.raises(RuleSetInvalid) as caught:
        validate_document(doc)
    mine, others = forms.field_errors(caught.value.errors, "policies[0].steps[2]")
    fields = {forms.step_field(path, step["actions"]) for path in mine}
    assert {"days", "note.text", "task.assignee"} <= fields
    assert others == {}


def test_keys_come_from_names_and_never_collide():
    assert forms.slug("A week overdue!") == "a-week-overdue"
    assert forms.slug("Due", {"due", "due-2"}) == "due-3"
    assert forms.slug("!!!", fallback="step") == "step"
    assert forms.whole("12") == 12 and forms.whole("") is None and forms.whole("1.5") == "1.5"


def test_a_problem_reads_in_the_words_of_the_form():
    from policy.words import problem

    doc = starter()
    doc["policies"][0]["steps"][0]["conditions"] = [
        {"fact": "invoice_amount", "op": "in", "value": "100"}
    ]
    with pytest.raises(RuleSetInvalid) as caught:
        validate_document(doc)
    [message] = caught.value.errors.values()
    assert problem(message) == (
        "“is one of” does not apply to the invoice amount; choose “is more than”, “is at least”, "
        "“is less than”, “is at most”, “is”, “is not”"
    )
