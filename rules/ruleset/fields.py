"""Field types the rule set and the API inputs share, with bounds the database can hold.

Money fits NUMERIC(18, 4) (core.db.Money): at most 99,999,999,999,999.9999 and 4 decimal
places, so "1e999999" or a 29-digit amount is a field error, not a database error. Dates lie
between 1900 and 2199, far from the ends of Python's calendar where date arithmetic overflows
(a backtest ending in year 1). Ids are 1-64 characters, the length of every external id column.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

MAX_AMOUNT = Decimal("99999999999999.9999")
MONEY_PLACES = 4
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
ID = validate.Length(min=1, max=64)
# The same bounds as text patterns, for the API's OpenAPI description.
DAY_PATTERN = r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
AMOUNT_PATTERN = r"^[0-9]{1,14}(\.[0-9]+)?$"


def amount_problem(amount: Decimal) -> str | None:
    """Why `amount` cannot be money here, or None."""
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        return f"must be an amount of zero or more, up to {MAX_AMOUNT:,}"
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES:
        return f"must have at most {MONEY_PLACES} decimal places"
    return None


def _check_amount(amount: Decimal) -> None:
    problem = amount_problem(amount)
    if problem:
        raise ValidationError(problem)


def _check_date(day: date) -> None:
    problem = date_problem(day)
    if problem:
        raise ValidationError(problem)


def date_problem(day: date) -> str | None:
    """Why `day` is not accepted (a date outside EARLIEST..LATEST), or None."""
    if not EARLIEST <= day <= LATEST:
        return f"must be a date from {EARLIEST.isoformat()} to {LATEST.isoformat()}"
    return None


class Money(fields.Decimal):
    """An amount as a string ("12.50") or a number; "1e2" is kept as 100, not 1E+2."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        amount = super()._deserialize(value, attr, data, **kwargs)
        if isinstance(amount, Decimal) and amount.is_finite() and abs(amount) <= MAX_AMOUNT:
            exponent = amount.as_tuple().exponent
            if isinstance(exponent, int) and exponent > 0:
                return amount.quantize(Decimal(1))
        return amount


def money(*, positive: bool = False, **kw: Any) -> Money:
    """An amount from 0 (or more than 0, when `positive`) to MAX_AMOUNT."""
    checks: list[Any] = [_check_amount]
    if positive:
        checks.append(validate.Range(min=0, min_inclusive=False, error="must be more than 0"))
    return Money(as_string=True, allow_nan=False, validate=checks, **kw)


def day(**kw: Any) -> fields.Date:
    """A date as YYYY-MM-DD between EARLIEST and LATEST."""
    return fields.Date(validate=_check_date, metadata={"pattern": DAY_PATTERN}, **kw)


def external_id(**kw: Any) -> fields.String:
    """A customer's or an invoice's id in the provider: 1-64 characters."""
    return fields.String(validate=ID, **kw)


class Flag(fields.Boolean):
    """JSON true or false, nothing else. marshmallow's Boolean also takes 1, 0, 0.0 and words
    like "yes" (1 == True in Python's sets), which the API's description says it does not."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def flag(**kw: Any) -> Flag:
    return Flag(error_messages={"invalid": "must be true or false"}, **kw)
