"""Hostile JSON API input is a 4xx naming the field, never a 500; pauses only for what is in
the organization's mirror."""

from __future__ import annotations

import json

import pytest

from core.db import session_scope
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay
from tests.connector.conftest import sign_in
from tests.rules.factories import simple_rules
from tests.rules.test_api import seed

DEEP = "[" * 5000 + "]" * 5000
PLAN = {"customer": "C1", "invoices": ["I1"], "instalments": [{"due_on": "2099-01-01"}]}


def plan(amount: str, **changes: object) -> str:
    body = json.loads(json.dumps(PLAN))
    body["instalments"][0]["amount"] = amount
    return json.dumps({**body, **changes})


CASES = [
    # (method, path, raw body, field, words in the message)
    ("post", "rules/validate", "[]", "", "expected a JSON object, not an array"),
    ("post", "rules/validate", '"rules"', "", "expected a JSON object, not a string"),
    ("post", "rules/validate", "5", "", "expected a JSON object, not a number"),
    ("post", "rules/preview", "[1]", "", "expected a JSON object"),
    ("post", "rules/backtest", "null", "", "expected a JSON object, not null"),
    ("post", "rules/validate", DEEP, "", "expected a JSON object"),
    ("post", "rules/validate", '{"document": ' + DEEP + "}", "document[0]", "nested more than"),
    ("post", "rules/backtest", '{"end": "0001-01-03"}', "end", "from 1900-01-01 to 2199-12-31"),
    ("post", "rules/preview", '{"as_of": "9999-12-31"}', "as_of", "from 1900-01-01"),
    ("post", "rules/backtest", '{"version": 99999999999999999999}', "version", "version number"),
    (
        "post",
        "promises",
        '{"customer": "C1", "until": "2099-01-01", "amount": "1e999999"}',
        "amount",
        "up to 99,999,999,999,999.9999",
    ),
    (
        "post",
        "promises",
        '{"customer": "C1", "until": "2099-01-01", "amount": "12345678901234567890123456789"}',
        "amount",
        "up to 99,999,999,999,999.9999",
    ),
    ("post", "payment-plans", plan("1e999999"), "instalments[0].amount", "up to"),
    ("post", "payment-plans", plan("0.00001"), "instalments[0].amount", "4 decimal places"),
    (
        "post",
        "payment-plans",
        plan("10", invoices=["I1", "I1"]),
        "invoices[1]",
        "names invoice 'I1' a second time",
    ),
    (
        "post",
        "promises",
        '{"customer": "C1", "until": "2099-01-01", "invoices": ["I2", "I2"]}',
        "invoices[1]",
        "a second time",
    ),
    ("post", "promises", '{"customer": "\\ud800", "until": "2099-01-01"}', "customer", "surrogate"),
    ("post", "disputes", '{"invoice": "I1\\udfff", "reason": "other"}', "invoice", "surrogate"),
    ("post", "disputes", '{"invoice": "I1", "reason": "other", "note": "\\u0000"}', "note", "NUL"),
    ("put", "customers/C1/profile", '{"tags": ["\\ud800"]}', "tags[0]", "surrogate"),
    ("put", "customers/" + "x" * 65 + "/profile", '{"tags": []}', "customer", "1-64 characters"),
    (
        "post",
        "rules/versions",
        json.dumps({"document": simple_rules(name="Rules\x00")}),
        "document.name",
        "NUL",
    ),
    ("get", "actions?before=99999999999999999999999", None, "before", "2147483647"),
    ("get", "actions?customer=%00", None, "customer", "NUL"),
    ("get", "rules/export?version=99999999999999999999", None, "version", "2147483647"),
]


@pytest.mark.parametrize(("method", "path", "body", "field", "words"), CASES)
def test_hostile_input_is_a_4xx_naming_the_field(
    client, session_factory, method, path, body, field, words
) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    client.post(
        f"/api/orgs/{org_id}/rules/versions", json={"document": simple_rules(), "activate": True}
    )
    answer = getattr(client, method)(
        f"/api/orgs/{org_id}/{path}", data=body, content_type="application/json"
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)
    errors = answer.json["errors"]
    key = next((k for k in errors if k == field or (field and k.startswith(field))), None)
    assert key is not None and words in errors[key], errors


@pytest.mark.parametrize(
    "path",
    [
        "rules/versions/99999999999999999999",
        "actions/99999999999999999999",
        "disputes/99999999999999999999/close",
        "promises/2147483648/cancel",
    ],
)
def test_ids_too_large_to_exist_are_not_found(client, session_factory, path) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    method = client.get if path.startswith(("rules", "actions")) else client.post
    assert method(f"/api/orgs/{org_id}/{path}", json={}).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("disputes", {"invoice": "NOPE", "reason": "other"}, "invoice", "no invoice 'NOPE'"),
        ("promises", {"customer": "NOPE", "until": "2099-01-01"}, "customer", "no customer"),
        (
            "promises",
            {"customer": "C1", "until": "2099-01-01", "invoices": ["NOPE"]},
            "invoices[0]",
            "no invoice 'NOPE'",
        ),
        (
            "payment-plans",
            {**json.loads(plan("10")), "customer": "NOPE"},
            "customer",
            "no customer",
        ),
        (
            "payment-plans",
            {**json.loads(plan("10")), "invoices": ["I1", "NOPE"]},
            "invoices[1]",
            "no invoice 'NOPE' in this organization",
        ),
    ],
)
def test_pauses_for_what_is_not_in_the_mirror_are_refused(
    client, session_factory, path, body, field, words
) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    answer = client.post(f"/api/orgs/{org_id}/{path}", json=body)
    assert answer.status_code == 422
    assert words in answer.json["errors"][field]
    with session_scope(session_factory) as db:
        for model in (Dispute, PromiseToPay, PaymentPlan):
            assert db.query(model).count() == 0


def test_amounts_in_exponent_notation_are_plain_amounts(client, session_factory) -> None:
    org_id = seed(session_factory)
    sign_in(client, org_id)
    for amount in ("1e2", "1e999999"):
        answer = client.post(
            f"/api/orgs/{org_id}/promises",
            json={"customer": "C1", "until": "2099-01-01", "amount": amount},
        )
        assert answer.status_code == (201 if amount == "1e2" else 422)
    with session_scope(session_factory) as db:
        (promise,) = db.query(PromiseToPay).all()
        assert str(promise.amount) in ("100", "100.0000")
