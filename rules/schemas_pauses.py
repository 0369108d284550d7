"""Shapes of the pause and customer-state inputs (disputes, promises, plans, profiles)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from rules.models import DisputeReason
from rules.schemas import RuleSetInvalid
from rules.schemas import flatten

_ID = validate.Length(min=1, max=64)


class DisputeIn(Schema):
    invoice = fields.String(required=True, validate=_ID)
    reason = fields.String(required=True, validate=validate.OneOf(DisputeReason.ALL))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    opened_on = fields.Date(load_default=None)


class DisputeClose(Schema):
    resolution = fields.String(load_default="", validate=validate.Length(max=2000))
    closed_on = fields.Date(load_default=None)


class PromiseIn(Schema):
    customer = fields.String(required=True, validate=_ID)
    until = fields.Date(required=True)
    invoices = fields.List(fields.String(validate=_ID), load_default=list)
    amount = fields.Decimal(
        as_string=True, allow_nan=False, load_default=None, validate=validate.Range(min=0)
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class InstalmentIn(Schema):
    due_on = fields.Date(required=True)
    amount = fields.Decimal(
        as_string=True,
        allow_nan=False,
        required=True,
        validate=validate.Range(min=0, min_inclusive=False),
    )


class PlanIn(Schema):
    customer = fields.String(required=True, validate=_ID)
    invoices = fields.List(
        fields.String(validate=_ID), required=True, validate=validate.Length(min=1)
    )
    instalments = fields.List(
        fields.Nested(InstalmentIn), required=True, validate=validate.Length(min=1, max=120)
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        dates = [i["due_on"] for i in data.get("instalments", [])]
        if dates != sorted(set(dates)):
            raise ValidationError("instalment dates must be distinct and in order", "instalments")


class ProfileIn(Schema):
    tags = fields.List(fields.String(validate=validate.Length(1, 60)), load_default=None)
    do_not_contact = fields.Boolean(load_default=None)
    do_not_contact_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    credit_hold = fields.Boolean(load_default=None)
    credit_hold_reason = fields.String(load_default=None, validate=validate.Length(max=500))
    owner = fields.String(load_default=None, validate=validate.Length(max=300))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """`data` loaded by `schema`; raises RuleSetInvalid with field paths."""
    if not isinstance(data, dict):
        raise RuleSetInvalid({"": "expected a JSON object"})
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise RuleSetInvalid(flatten(exc.normalized_messages())) from None
