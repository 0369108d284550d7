"""Shapes of the pause and customer-state inputs (disputes, promises, plans, profiles)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from core.invalid import InputInvalid
from rules.pauses.models import DisputeReason
from rules.ruleset.fields import day
from rules.ruleset.fields import external_id
from rules.ruleset.fields import flag
from rules.ruleset.fields import money
from rules.ruleset.schema import problems


class PauseInvalid(InputInvalid):
    """A dispute, promise, plan or customer-state input cannot be recorded; `errors` name the
    fields."""


class DisputeIn(Schema):
    invoice = external_id(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(DisputeReason.ALL))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    opened_on = day(load_default=None)


class DisputeClose(Schema):
    resolution = fields.String(load_default="", validate=validate.Length(max=2000))
    closed_on = day(load_default=None)


class PromiseIn(Schema):
    customer = external_id(required=True)
    until = day(required=True)
    invoices = fields.List(external_id(), load_default=list, validate=validate.Length(max=500))
    amount = money(load_default=None)
    note = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _distinct(self, data: dict[str, Any], **_: Any) -> None:
        _no_repeats(data.get("invoices", []))


class InstalmentIn(Schema):
    due_on = day(required=True)
    amount = money(required=True, positive=True)


class PlanIn(Schema):
    customer = external_id(required=True)
    invoices = fields.List(external_id(), required=True, validate=validate.Length(min=1, max=500))
    instalments = fields.List(
        fields.Nested(InstalmentIn), required=True, validate=validate.Length(min=1, max=120)
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        _no_repeats(data.get("invoices", []))
        dates = [i["due_on"] for i in data.get("instalments", [])]
        if dates != sorted(set(dates)):
            raise ValidationError("instalment dates must be distinct and in order", "instalments")


def _no_repeats(invoices: list[str]) -> None:
    seen: set[str] = set()
    for i, invoice in enumerate(invoices):
        if invoice in seen:
            raise ValidationError({i: [f"names invoice '{invoice}' a second time"]}, "invoices")
        seen.add(invoice)


class ProfileIn(Schema):
    tags = fields.List(
        fields.String(validate=validate.Length(1, 60)),
        load_default=None,
        validate=validate.Length(max=50),
    )
    do_not_contact = flag(load_default=None)
    do_not_contact_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    credit_hold = flag(load_default=None)
    credit_hold_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    owner = fields.String(load_default=None, validate=validate.Length(max=300))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """`data` loaded by `schema`; raises PauseInvalid with field paths."""
    if not isinstance(data, dict):
        raise PauseInvalid({"": "expected a JSON object"})
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        raise PauseInvalid(problems(exc)) from None
    return loaded
