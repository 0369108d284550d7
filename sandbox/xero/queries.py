"""GET on a Xero collection: If-Modified-Since (header only), IDs and the other list filters,
`where`, `order`, then `page`/`pageSize` (default 100, at most 1000).

Without `page`, every match comes back, and invoices come without line items, as in Xero.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.datastructures import MultiDict

from sandbox.xero.dates import parse_http_instant
from sandbox.xero.models import Ledger
from sandbox.xero.where import Accessor
from sandbox.xero.where import compile_where

Render = Callable[[Ledger, Any, "View"], dict[str, Any]]


class BadQuery(ValueError):
    """A list request Xero would reject; `plain` errors come back as text, not JSON."""

    def __init__(self, message: str, plain: bool = False) -> None:
        super().__init__(message)
        self.plain = plain


@dataclass(frozen=True)
class View:
    paged: bool
    summary: bool
    today: date


@dataclass(frozen=True)
class Collection:
    key: str  # the envelope key and URL segment, e.g. "Invoices"
    entity: str  # the singular type name in errors
    items: Callable[[Ledger], Iterable[Any]]
    render: Render
    fields: dict[str, Accessor]
    id_fields: dict[str, str]  # id field in `where` -> the parameter to use instead
    filters: dict[str, Accessor] = field(default_factory=dict)  # list params, e.g. Statuses
    archived: bool = False  # honours includeArchived


def run(
    collection: Collection, ledger: Ledger, args: MultiDict, headers: Headers, today: date
) -> tuple[list[dict[str, Any]], dict[str, int] | None]:
    """The rendered items and, when paged, the pagination block."""
    items = list(collection.items(ledger))
    since = parse_http_instant(headers.get("If-Modified-Since"))
    if since is not None:
        items = [item for item in items if item.updated >= since]
    items = _list_filters(collection, items, args)
    if collection.archived and args.get("includeArchived", "").lower() != "true":
        items = [item for item in items if item.status != "ARCHIVED"]
    if args.get("where"):
        test = compile_where(
            args["where"], collection.fields, collection.id_fields, collection.entity
        )
        items = [item for item in items if test(item)]
    items = _order(collection, items, args.get("order", ""))
    summary = args.get("summaryOnly", "").lower() == "true"
    view = View(paged="page" in args, summary=summary, today=today)
    if not view.paged:
        return [collection.render(ledger, item, view) for item in items], None
    page, size = _paging(args)
    chunk = items[(page - 1) * size : page * size]
    pagination = {
        "page": page,
        "pageSize": size,
        "pageCount": math.ceil(len(items) / size),
        "itemCount": len(items),
    }
    return [collection.render(ledger, item, view) for item in chunk], pagination


def _list_filters(collection: Collection, items: list[Any], args: MultiDict) -> list[Any]:
    ids = _csv(args, "IDs")
    if ids:
        wanted = {_uuid(value) for value in ids}
        items = [item for item in items if item.id in wanted]
    for param, accessor in collection.filters.items():
        values = _csv(args, param)
        if values:
            if param.endswith("IDs"):
                values = [_uuid(value) for value in values]
            wanted_values = set(values)
            items = [item for item in items if accessor(item) in wanted_values]
    return items


def _csv(args: MultiDict, name: str) -> list[str]:
    values: list[str] = []
    for key in args:
        if key.lower() == name.lower():
            for raw in args.getlist(key):
                values += [part.strip() for part in raw.split(",") if part.strip()]
    return values


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        # Xero answers a malformed id list in plain text, ignoring Accept (pyxero#339).
        raise BadQuery(
            "Supplied parameter 'Ids' cannot be parsed - must be of type UUID.", plain=True
        ) from None


def _order(collection: Collection, items: list[Any], order: str) -> list[Any]:
    for part in reversed([p.strip() for p in order.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        lowered = {key.lower(): key for key in collection.fields}
        if name.lower() not in lowered:
            raise BadQuery(f"No property or field '{name}' exists in type '{collection.entity}'")
        if direction.strip().upper() not in ("", "ASC", "DESC"):
            raise BadQuery(f"Unable to parse the order clause near '{part}'")
        accessor = collection.fields[lowered[name.lower()]]
        items = sorted(
            items,
            key=lambda item: _sort_key(accessor(item)),
            reverse=direction.strip().upper() == "DESC",
        )
    return items


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, value)


def _paging(args: MultiDict) -> tuple[int, int]:
    try:
        page = max(1, int(args.get("page", "1")))
        size = min(1000, max(1, int(args.get("pageSize", "100"))))
    except ValueError:
        raise BadQuery("page and pageSize must be whole numbers") from None
    return page, size
