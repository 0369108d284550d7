"""Input parsing for the control API: every problem becomes a clear 400 message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from flask import request

from sandbox.quickbooks.wire import money


class BadInput(Exception):
    """A control request with missing or malformed input (HTTP 400)."""


def body_json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


def amount(value: Any, what: str) -> Decimal:
    try:
        result = money(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise BadInput(f'{what} must be a decimal amount like "12.34", got {value!r}') from exc
    if result <= 0:
        raise BadInput(f"{what} must be positive")
    return result


def integer(value: Any, what: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | str)
        or not str(value).lstrip("-").isdigit()
    ):
        raise BadInput(f"{what} must be an integer, got {value!r}")
    return int(value)


def day(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise BadInput(f"{what} must be YYYY-MM-DD, got {value!r}") from exc
