"""The one place a rule set's shape is defined and validated (marshmallow).

`validate_document(data)` returns the normalised document (plain JSON: money as strings) or
raises `RuleSetInvalid` whose `errors` map a dotted path ("policies[0].steps[1].offset_days") to
a message naming the problem. `load_document` returns typed values (Decimal money) for
compilation by rules.ruleset.book. Export is the normalised document, so import/export round-trips.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from core.invalid import InputInvalid
from rules.engine.conditions import COUNT
from rules.engine.conditions import CURRENCY
from rules.engine.conditions import FACT_TYPES
from rules.engine.conditions import MONEY
from rules.engine.conditions import OPS
from rules.engine.conditions import SEGMENT
from rules.engine.decisions import ActionKind
from rules.ruleset.checks import cross_check
from rules.ruleset.fields import amount_problem
from rules.ruleset.fields import flag
from rules.ruleset.fields import money

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KEY = validate.Regexp(
    KEY_PATTERN,
    error="must be 1-40 characters of lowercase letters, digits, '-' or '_', starting with a "
    "letter or digit",
)
CURRENCY_CODE = validate.Regexp(r"^[A-Z]{3}$", error="must be a three-letter ISO currency code")
HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be a time as HH:MM (24-hour)")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ACTION_TYPES = ("reminder", "note", "task", "credit_hold", "release_hold")
FORMAT = "dunwell.rules/1"
REMINDER_CHANNELS = ("email", "provider")


class RuleSetInvalid(InputInvalid):
    """A rule set failed validation; `errors` maps field paths to messages."""


def _money(**kw: Any) -> fields.Decimal:
    return money(**kw)


class _Strict(Schema):
    class Meta:
        ordered = True


class ConditionSchema(_Strict):
    fact = fields.String(required=True, validate=validate.OneOf(sorted(FACT_TYPES)))
    op = fields.String(required=True)
    value = fields.Raw(required=True, allow_none=False)

    @validates_schema
    def _typed(self, data: dict[str, Any], **_: Any) -> None:
        kind = FACT_TYPES.get(data.get("fact", ""))
        if kind is None:
            return
        if data.get("op") not in OPS[kind]:
            raise ValidationError(
                f"'{data.get('op')}' is not an operator for {data['fact']}; use one of "
                + ", ".join(OPS[kind]),
                "op",
            )
        problem = _value_problem(kind, data["op"], data["value"])
        if problem:
            raise ValidationError(problem, "value")


def _value_problem(kind: str, op: str, value: Any) -> str | None:
    if kind == SEGMENT:
        keys = value if op in ("in", "not_in") else [value]
        if not isinstance(keys, list) or not keys:
            return "must be a non-empty list of segment keys for 'in'/'not_in'"
        if not all(isinstance(k, str) and KEY_PATTERN.fullmatch(k) for k in keys):
            return "must be the key of a segment (lowercase letters, digits, '-' or '_')"
        return None
    if kind == CURRENCY:
        values = value if op in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values:
            return "must be a non-empty list of currency codes for 'in'/'not_in'"
        if not all(
            isinstance(v, str) and len(v) == 3 and v.isalpha() and v.isupper() for v in values
        ):
            return "must be three-letter ISO currency codes such as 'USD'"
        return None
    if kind == COUNT:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return "must be an amount as a string such as '100.00' (or a whole number)"
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return f"'{value}' is not an amount"
    return amount_problem(amount)


def normalise_condition(cond: dict[str, Any]) -> dict[str, Any]:
    """The condition in its one stored form: money values as decimal strings, currency only
    when given."""
    kind = FACT_TYPES[cond["fact"]]
    value = cond["value"]
    if kind == MONEY:
        value = str(Decimal(str(value)))
    out = {"fact": cond["fact"], "op": cond["op"], "value": value}
    if cond.get("currency") is not None:
        out["currency"] = cond["currency"]
    return out


class StepActionSchema(_Strict):
    type = fields.String(required=True, validate=validate.OneOf(ACTION_TYPES))
    template = fields.String(load_default=None, validate=KEY)
    text = fields.String(load_default=None, validate=validate.Length(min=1, max=2000))
    on = fields.String(load_default="invoice", validate=validate.OneOf(("invoice", "customer")))
    assignee = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    # How a reminder goes: "email" (ours, in the template's words, the default) or "provider"
    # (QuickBooks' or Xero's own invoice email for each invoice; the template is kept on record).
    channel = fields.String(validate=validate.OneOf(REMINDER_CHANNELS))

    @validates_schema
    def _required_per_type(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("type")
        if "channel" in data and kind != ActionKind.REMINDER:
            raise ValidationError("only a reminder has a channel", "channel")
        if kind == ActionKind.REMINDER and not data.get("template"):
            raise ValidationError("a reminder needs the key of a template", "template")
        if kind in ("note", "task") and not data.get("text"):
            raise ValidationError(f"a {kind} needs its text", "text")
        if kind == ActionKind.TASK and not data.get("assignee"):
            raise ValidationError("a task needs the named person it is for", "assignee")


class RepeatSchema(_Strict):
    every_days = fields.Integer(required=True, strict=True, validate=validate.Range(1, 365))
    limit = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))


class StepSchema(_Strict):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    offset_days = fields.Integer(required=True, strict=True, validate=validate.Range(-365, 3650))
    conditions = fields.List(fields.Nested(ConditionSchema), load_default=list)
    actions = fields.List(
        fields.Nested(StepActionSchema), required=True, validate=validate.Length(min=1, max=10)
    )
    repeat = fields.Nested(RepeatSchema, load_default=None, allow_none=True)


class PolicySchema(_Strict):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    catch_up = fields.String(
        load_default="each_step", validate=validate.OneOf(("each_step", "latest_step"))
    )
    steps = fields.List(
        fields.Nested(StepSchema), required=True, validate=validate.Length(min=1, max=50)
    )


class MatchSchema(_Strict):
    tags_any = fields.List(fields.String(validate=validate.Length(1, 60)), load_default=list)
    currencies = fields.List(fields.String(validate=CURRENCY_CODE), load_default=list)
    billed_12m_min = _money(load_default=None, allow_none=True)
    billed_12m_max = _money(load_default=None, allow_none=True)
    avg_days_late_min = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(-3650, 3650)
    )
    avg_days_late_max = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(-3650, 3650)
    )


class SegmentSchema(_Strict):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    policy = fields.String(required=True, allow_none=True, validate=KEY)
    match = fields.Nested(MatchSchema, required=True)


class TemplateSchema(_Strict):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=500))
    body = fields.String(required=True, validate=validate.Length(min=1))


class EarlyPaymentSchema(_Strict):
    percent = fields.Decimal(
        as_string=True,
        allow_nan=False,
        load_default=None,
        allow_none=True,
        validate=validate.Range(0, 100, min_inclusive=False, max_inclusive=False),
    )
    days = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 365)
    )
    use_invoice_terms = flag(load_default=True)
    offer_in_reminders = flag(load_default=True)
    settle_short_payments = flag(load_default=True)


class OfferSchema(_Strict):
    key = fields.String(required=True, validate=KEY)
    min_days_overdue = fields.Integer(required=True, strict=True, validate=validate.Range(1, 3650))
    percent = fields.Decimal(
        as_string=True,
        allow_nan=False,
        required=True,
        validate=validate.Range(0, 100, min_inclusive=False, max_inclusive=False),
    )
    valid_days = fields.Integer(required=True, strict=True, validate=validate.Range(1, 365))
    min_balance = _money(load_default=Decimal("0"))
    template = fields.String(required=True, validate=KEY)


class DiscountsSchema(_Strict):
    early_payment = fields.Nested(EarlyPaymentSchema, load_default=None, allow_none=True)
    settlement_offers = fields.List(fields.Nested(OfferSchema), load_default=list)


class HoldConditionSchema(ConditionSchema):
    """A credit-hold condition, tested on the customer's position in each currency.

    An amount is in one currency: a money condition (customer_total_overdue) tests only the
    balance in `currency`, and without `currency` the organization's home currency. A balance
    in a currency no money condition names is never held by its amount (write one condition per
    currency). Count and day conditions without `currency` apply in every currency.
    """

    currency = fields.String(load_default=None, allow_none=True, validate=CURRENCY_CODE)


class CreditHoldSchema(_Strict):
    place_when_any = fields.List(
        fields.Nested(HoldConditionSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    reason = fields.String(load_default="Overdue balance", validate=validate.Length(max=200))


class PlanRemindersSchema(_Strict):
    remind_days_before = fields.List(
        fields.Integer(strict=True, validate=validate.Range(0, 60)), load_default=lambda: [3, 0]
    )
    template = fields.String(load_default=None, allow_none=True, validate=KEY)
    grace_days = fields.Integer(load_default=0, strict=True, validate=validate.Range(0, 60))


class UnappliedCreditSchema(_Strict):
    """Credit the customer already has with the business (unapplied credit notes, overpayments,
    unapplied payments), per currency. When it covers everything overdue in a currency, the
    overdue invoices in that currency are not chased (and hold no credit hold): the credit is
    to be applied, not the customer reminded. Reminders always say how much credit there is."""

    pause_when_covered = flag(load_default=True)


class InvoiceDeliverySchema(_Strict):
    """Invoices that go out on time: an invoice the business has not yet sent to its customer
    (QuickBooks EmailStatus NeedToSend; Xero SentToContact false on a SUBMITTED or AUTHORISED
    invoice) is sent through the provider's own invoice email `after_days` days after its issue
    date, once, to the invoice's (else the customer's) email address."""

    enabled = flag(load_default=False)
    after_days = fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(0, 365, error="must be a whole number of days from 0 to 365"),
    )


class CapSchema(_Strict):
    messages = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))
    days = fields.Integer(required=True, strict=True, validate=validate.Range(1, 365))


class QuietHoursSchema(_Strict):
    start = fields.String(required=True, validate=HHMM)
    end = fields.String(required=True, validate=HHMM)


class LimitsSchema(_Strict):
    caps = fields.List(
        fields.Nested(CapSchema),
        load_default=lambda: [{"messages": 1, "days": 3}, {"messages": 2, "days": 7}],
    )
    quiet_hours = fields.Nested(
        QuietHoursSchema, load_default=lambda: {"start": "20:00", "end": "08:00"}, allow_none=True
    )
    business_days = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)),
        load_default=lambda: list(WEEKDAYS[:5]),
        validate=validate.Length(min=1, max=7),
    )
    timezone_from = fields.String(
        load_default="customer", validate=validate.OneOf(("customer", "organization"))
    )
    approve_runs_over = fields.Integer(
        load_default=25,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=100_000),
        metadata={"description": "a run that would send more messages waits for approval"},
    )


class RuleSetSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    default_policy = fields.String(load_default=None, allow_none=True, validate=KEY)
    segments = fields.List(fields.Nested(SegmentSchema), load_default=list)
    policies = fields.List(fields.Nested(PolicySchema), load_default=list)
    templates = fields.Dict(
        keys=fields.String(validate=KEY), values=fields.Nested(TemplateSchema), load_default=dict
    )
    discounts = fields.Nested(DiscountsSchema, load_default=lambda: DiscountsSchema().load({}))
    credit_hold = fields.Nested(CreditHoldSchema, load_default=None, allow_none=True)
    payment_plans = fields.Nested(
        PlanRemindersSchema, load_default=lambda: PlanRemindersSchema().load({})
    )
    unapplied_credit = fields.Nested(
        UnappliedCreditSchema, load_default=lambda: UnappliedCreditSchema().load({})
    )
    invoice_delivery = fields.Nested(
        InvoiceDeliverySchema, load_default=lambda: InvoiceDeliverySchema().load({})
    )
    limits = fields.Nested(LimitsSchema, load_default=lambda: LimitsSchema().load({}))


def load_document(data: Any) -> dict[str, Any]:
    """Validate `data`; the result has Decimal money. Raises RuleSetInvalid."""
    if not isinstance(data, dict):
        raise RuleSetInvalid({"": "a rule set must be a JSON object"})
    try:
        loaded: dict[str, Any] = RuleSetSchema().load(data)
        found: dict[str, str] = {}
    except ValidationError as exc:
        # Every problem in one pass: the parts that validated are still checked across.
        found = problems(exc)
        failed = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in found}
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        loaded = {key: value for key, value in valid.items() if key not in failed}
    _normalise_conditions(loaded)
    found = {**cross_check(loaded), **found}
    if found:
        raise RuleSetInvalid(found)
    return loaded


def validate_document(data: Any) -> dict[str, Any]:
    """The normalised JSON form of a valid rule set; raises RuleSetInvalid."""
    return dump_document(load_document(data))


def dump_document(loaded: dict[str, Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = RuleSetSchema().dump(loaded)
    _normalise_conditions(dumped)
    return dumped


def _normalise_conditions(doc: dict[str, Any]) -> None:
    for policy in doc.get("policies", []):
        for step in policy["steps"]:
            step["conditions"] = [normalise_condition(c) for c in step["conditions"]]
    if doc.get("credit_hold"):
        hold = doc["credit_hold"]
        hold["place_when_any"] = [normalise_condition(c) for c in hold["place_when_any"]]


def problems(exc: ValidationError) -> dict[str, str]:
    """Every problem marshmallow found, one message per field path."""
    messages = exc.normalized_messages()  # type: ignore[no-untyped-call]  # unannotated upstream
    return flatten(messages)


def flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested error dict as {"a.b[0].c": "message"}."""
    if isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            return {prefix: " ".join(_tidy(m) for m in messages)}
        out: dict[str, str] = {}
        for item in messages:
            out.update(flatten(item, prefix))
        return out
    if not isinstance(messages, dict):
        return {prefix: str(messages)}
    out = {}
    for key, value in messages.items():
        out.update(flatten(value, _join(prefix, key)))
    return out


def _join(prefix: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key in ("value", "key") and prefix.startswith("templates."):
        return prefix  # fields.Dict nests errors under "key"/"value"
    if key == "_schema":
        return prefix
    return f"{prefix}.{key}" if prefix else str(key)


def _tidy(message: str) -> str:
    if message == "Unknown field.":
        return "is not a known field"
    if message == "Missing data for required field.":
        return "is required"
    if message == "Field may not be null.":
        return "may not be null"
    return message
