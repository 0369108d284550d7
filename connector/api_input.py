"""Reading the JSON API's input: the body, query arguments, path ids and dates.

Whatever a client sends ends as the value asked for or a InputInvalid (422) naming the field:
a body that is not a JSON object, nesting too deep to parse, text no database can store
(an unpaired surrogate, a NUL), numbers past what a column holds, dates past 1900-2199.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request
from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from core.invalid import InputInvalid
from providers.jsonbody import decode_untrusted
from providers.jsonbody import first_problem
from providers.jsonbody import text_problem
from rules.ruleset.fields import ID
from rules.ruleset.fields import date_problem
from rules.ruleset.schema import flatten

MAX_ROW_ID = 2**31 - 1
# A route's integer path part: larger ids cannot exist, so they are a plain 404.
ROW_ID = f"int(min=1, max={MAX_ROW_ID})"
_SEND_JSON = "send a JSON object with Content-Type: application/json"


def json_object() -> dict[str, Any]:
    """The request body as a JSON object whose every part is storable; 422 otherwise."""
    if not request.is_json:
        raise InputInvalid({"": _SEND_JSON})
    try:
        data = decode_untrusted(request.get_data(cache=True))
    except ValueError as exc:
        raise InputInvalid({"": f"the body is not valid JSON ({exc}); {_SEND_JSON}"}) from None
    if not isinstance(data, dict):
        raise InputInvalid({"": f"expected a JSON object, not {_kind(data)}"})
    problem = first_problem(data)
    if problem is not None:
        raise InputInvalid({problem[0]: problem[1]})
    return data


def _kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")


def date_field(data: dict[str, Any], key: str, default: date) -> date:
    """`data[key]` as a date (YYYY-MM-DD) within range, or `default` when absent."""
    value = data.get(key)
    if value is None:
        return default
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise InputInvalid({key: "must be a date as YYYY-MM-DD"})
    problem = date_problem(day)
    if problem:
        raise InputInvalid({key: problem})
    return day


def version_number(value: Any, key: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ROW_ID:
        raise InputInvalid({key: "must be a version number (a whole number from 1)"})
    return value


def customer_id(value: str) -> str:
    """A customer id from the path: 1-64 characters of storable text."""
    problem = text_problem(value) or (None if 1 <= len(value) <= 64 else "must be 1-64 characters")
    if problem:
        raise InputInvalid({"customer": problem})
    return value


class ActionsQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(validate=validate.Length(min=1, max=20))
    customer = fields.String(validate=ID)
    kind = fields.String(validate=validate.Length(min=1, max=20))
    before = fields.Integer(validate=validate.Range(1, MAX_ROW_ID))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ExportQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    version = fields.Integer(validate=validate.Range(1, MAX_ROW_ID))


def query(schema: Schema) -> dict[str, Any]:
    """The query string loaded by `schema`; 422 naming the argument."""
    args = dict(request.args.items())
    for key, value in args.items():
        problem = text_problem(value)
        if problem:
            raise InputInvalid({key: problem})
    try:
        return schema.load(args)
    except ValidationError as exc:
        raise InputInvalid(flatten(exc.normalized_messages())) from None
