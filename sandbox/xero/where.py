"""A small reading of Xero's `where` filter: `Field == "x"`, `!=`, `<`, `>`, `<=`, `>=`,
`.Contains("x")` / `.StartsWith` / `.EndsWith`, joined by AND / OR (or && / ||); values are
strings, numbers, true/false, `DateTime(2026,5,1)` and `Guid("...")`.

Filtering on an id is refused the way large Xero organisations refuse it: a 400 pointing at the
`IDs` parameter (pyxero#373).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

Accessor = Callable[[Any], Any]
Predicate = Callable[[Any], bool]

_CLAUSE = re.compile(
    r"^\s*(?P<field>[A-Za-z][\w.]*?)(?:\.ToString\(\))?\s*(?P<op>==|!=|>=|<=|>|<|=)\s*(?P<value>.+?)\s*$"
)
_METHOD = re.compile(
    r'^\s*(?P<field>[A-Za-z][\w.]*)\.(?P<op>Contains|StartsWith|EndsWith)\(\s*"(?P<value>[^"]*)"\s*\)\s*$'
)
_SPLIT = re.compile(r'("[^"]*")|\s+(AND|OR)\s+|(&&|\|\|)', re.IGNORECASE)


class WhereError(ValueError):
    """The filter can't be read (QueryParseException)."""


class Inefficient(ValueError):
    """The filter names an id; Xero wants the IDs parameter instead."""


def compile_where(
    text: str, fields: dict[str, Accessor], id_fields: dict[str, str], entity: str
) -> Predicate:
    """A predicate for `text`; AND binds tighter than OR."""
    groups: list[list[Predicate]] = [[]]
    for joiner, clause in _clauses(text):
        if joiner == "OR":
            groups.append([])
        groups[-1].append(_clause(clause, fields, id_fields, entity))
    return lambda obj: any(all(test(obj) for test in group) for group in groups)


def _clauses(text: str) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = []
    joiner, current, position = "AND", "", 0
    for match in _SPLIT.finditer(text):
        if match.group(1):
            continue
        parts.append((joiner, current + text[position : match.start()]))
        token = (match.group(2) or match.group(3)).upper()
        joiner = "OR" if token in ("OR", "||") else "AND"
        current, position = "", match.end()
    parts.append((joiner, text[position:]))
    if any(not clause.strip() for _, clause in parts):
        raise WhereError("The where clause is incomplete")
    return parts


def _clause(
    text: str, fields: dict[str, Accessor], id_fields: dict[str, str], entity: str
) -> Predicate:
    match = _METHOD.match(text) or _CLAUSE.match(text)
    if match is None:
        raise WhereError(f"Unable to parse the where clause near '{text.strip()}'")
    name, op, raw = match.group("field"), match.group("op"), match.group("value")
    lowered = {key.lower(): key for key in fields}
    if name.lower() in {key.lower() for key in id_fields}:
        param = next(v for k, v in id_fields.items() if k.lower() == name.lower())
        raise Inefficient(
            f"Your request is not filtering {entity}s efficiently. "
            f"Please use the {param} parameter to filter by {name}."
        )
    if name.lower() not in lowered:
        raise WhereError(f"No property or field '{name}' exists in type '{entity}'")
    accessor = fields[lowered[name.lower()]]
    if op in ("Contains", "StartsWith", "EndsWith"):
        return _text_test(accessor, op, raw)
    return _compare(accessor, op, _literal(raw))


def _text_test(accessor: Accessor, op: str, needle: str) -> Predicate:
    method = {"Contains": str.__contains__, "StartsWith": str.startswith, "EndsWith": str.endswith}[
        op
    ]
    return lambda obj: method(str(accessor(obj) or ""), needle)


def _literal(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if raw.lower() == "null":
        return None
    date_match = re.fullmatch(r"DateTime\(\s*(\d{4})\s*,\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)", raw)
    if date_match:
        return date(*(int(part) for part in date_match.groups()))
    guid = re.fullmatch(r'Guid\(\s*"([0-9a-fA-F-]{36})"\s*\)', raw)
    if guid:
        return guid.group(1).lower()
    try:
        return Decimal(raw)
    except ArithmeticError as exc:
        raise WhereError(f"Unable to parse the value {raw}") from exc


def _compare(accessor: Accessor, op: str, literal: Any) -> Predicate:
    def test(obj: Any) -> bool:
        value = _comparable(accessor(obj), literal)
        if op in ("==", "="):
            return value == literal
        if op == "!=":
            return value != literal
        if value is None or literal is None:
            return False
        try:
            return {
                ">": value > literal,
                "<": value < literal,
                ">=": value >= literal,
                "<=": value <= literal,
            }[op]
        except TypeError:
            return False

    return test


def _comparable(value: Any, literal: Any) -> Any:
    """`UpdatedDateUTC >= DateTime(2026,5,1)` compares the instant's UTC date."""
    if isinstance(value, datetime) and isinstance(literal, date):
        return value.astimezone(UTC).date()
    return value
