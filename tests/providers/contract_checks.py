"""Checks every record must pass whatever system it came from (the provider contract)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import date
from datetime import datetime
from decimal import Decimal
from typing import Any

from providers.base import AnyRecord
from providers.base import Entity
from providers.base import Record

MAX_PLACES = 4


def all_records(pages: Iterator[list[AnyRecord]]) -> tuple[list[AnyRecord], list[str]]:
    """Every record of a listing, and the problems with its pages (not lists, empty pages)."""
    records: list[AnyRecord] = []
    problems: list[str] = []
    for number, page in enumerate(pages):
        if not isinstance(page, list):
            problems.append(f"page {number} is a {type(page).__name__}, not a list")
        elif not page:
            problems.append(f"page {number} is empty")
        records.extend(page)
    return records, problems


def out_of_order(records: list[AnyRecord]) -> list[str]:
    return [
        f"{b.external_id} ({b.updated_at}) listed after {a.external_id} ({a.updated_at})"
        for a, b in zip(records, records[1:], strict=False)
        if b.updated_at < a.updated_at
    ]


RATE_PLACES = 12  # an exchange rate is not money: core.db.Rate keeps 12 places


def value_problems(where: str, value: Any) -> list[str]:
    """Floats, naive instants and over-precise amounts anywhere inside a record."""
    if isinstance(value, float):
        return [f"{where} is a float ({value!r}); money must be Decimal"]
    if isinstance(value, datetime):
        ok = value.tzinfo is not None and value.utcoffset() is not None
        return [] if ok else [f"{where} is a naive datetime ({value!r})"]
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        places = RATE_PLACES if where.endswith(".home_rate") else MAX_PLACES
        if not value.is_finite() or not isinstance(exponent, int) or -exponent > places:
            return [f"{where} = {value!r} has more than {places} decimal places"]
        return []
    if isinstance(value, tuple):
        return [p for i, item in enumerate(value) for p in value_problems(f"{where}[{i}]", item)]
    if hasattr(value, "__dataclass_fields__"):
        parts = ((f"{where}.{f.name}", getattr(value, f.name)) for f in fields(value))
        return [p for name, part in parts for p in value_problems(name, part)]
    return []


CALENDAR_FIELDS = ("issue_date", "due_date", "paid_on")


def record_problems(entity: Entity, record: Any) -> list[str]:
    label = f"{entity} {getattr(record, 'external_id', record)!r}"
    if not isinstance(record, Record) or record.entity is not entity:
        return [f"{label} is a {type(record).__name__}"]
    problems = value_problems(label, record)
    if not isinstance(record.updated_at, datetime):
        problems.append(f"{label}.updated_at is not a datetime")
    if not record.external_id or not record.version:
        problems.append(f"{label} lacks external_id or version")
    for name in CALENDAR_FIELDS:
        value = getattr(record, name, None)
        if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
            problems.append(f"{label}.{name} = {value!r} is not a calendar date")
    return problems


def same_id(a: str, b: str) -> bool:
    """Xero GUIDs may come back in either case."""
    return a.lower() == b.lower()
