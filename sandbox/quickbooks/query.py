"""The subset of QuickBooks' query language the sandbox understands, and the CDC endpoint.

    SELECT * | COUNT(*) FROM <Entity> [WHERE <cond> [AND <cond>]...]
        [ORDERBY <field> [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]

with conditions `<field> <op> <value>`, op one of = != < <= > >= IN LIKE. Name-list entities
(Customer, Term) return only active rows unless the query mentions Active, as QBO does.

The sandbox holds customers, invoices, payments, credit memos and terms. Every other QuickBooks
entity (Account, Item, Vendor...) exists but holds nothing here: its queries and its CDC answer
empty, as a company without such records would, so a client that reads them all (tap-quickbooks)
goes on. A name QuickBooks does not know is "invalid context declaration".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.wire import parse_instant

ENTITIES = {
    name.lower(): name
    for name in (
        "Customer",
        "Invoice",
        "Payment",
        "CreditMemo",
        "Term",
        "CompanyInfo",
        "Preferences",
    )
}
CDC_ENTITIES = ("Customer", "Invoice", "Payment", "CreditMemo", "Term")
HELD_NONE = {
    name.lower(): name
    for name in (
        "Account",
        "Attachable",
        "Bill",
        "BillPayment",
        "Budget",
        "Class",
        "CompanyCurrency",
        "CreditCardPayment",
        "CustomerType",
        "Department",
        "Deposit",
        "Employee",
        "Estimate",
        "ExchangeRate",
        "Item",
        "JournalCode",
        "JournalEntry",
        "PaymentMethod",
        "Purchase",
        "PurchaseOrder",
        "RecurringTransaction",
        "RefundReceipt",
        "SalesReceipt",
        "TaxAgency",
        "TaxCode",
        "TaxRate",
        "TimeActivity",
        "Transfer",
        "Vendor",
        "VendorCredit",
    )
}
NO_CDC = ("JournalCode", "TaxAgency", "TaxCode", "TaxRate", "TimeActivity")
NAME_LISTS = ("Customer", "Term")
COMMON = ("Id", "MetaData.CreateTime", "MetaData.LastUpdatedTime")
QUERYABLE = {
    "Invoice": ("DocNumber", "TxnDate", "DueDate", "CustomerRef", "Balance", "TotalAmt"),
    "CreditMemo": ("DocNumber", "TxnDate", "CustomerRef", "Balance", "TotalAmt"),
    "Payment": ("TxnDate", "CustomerRef", "TotalAmt", "PaymentRefNum"),
    "Customer": (
        "Active",
        "DisplayName",
        "GivenName",
        "FamilyName",
        "CompanyName",
        "FullyQualifiedName",
        "PrimaryEmailAddr",
        "Balance",
    ),
    "Term": ("Active", "Name"),
}
MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
CDC_CAP = 1000
CDC_DAYS = 30

STATEMENT = re.compile(
    r"^\s*SELECT\s+(?P<select>\*|COUNT\s*\(\s*\*\s*\))\s+FROM\s+(?P<entity>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s*BY\s+(?P<order>[\w.]+)(?:\s+(?P<direction>ASC|DESC))?)?"
    r"(?:\s+STARTPOSITION\s+(?P<start>\d+))?"
    r"(?:\s+MAXRESULTS\s+(?P<max>\d+))?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
CONDITION = re.compile(
    r"^\s*(?P<field>[\w.]+)\s*(?P<op>>=|<=|!=|=|<|>|\bIN\b|\bLIKE\b)\s*(?P<value>.+?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
AND_SPLIT = re.compile(r"\s+AND\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)
VALUE = re.compile(r"'((?:[^'\\]|\\.)*)'|(true|false)|(-?\d+(?:\.\d+)?)", re.IGNORECASE)

Predicate = Callable[[str, dict[str, Any]], bool]


def parser_error(detail: str) -> OpError:
    return OpError("4000", "Error parsing query", f"QueryParserError: {detail}")


def validation_error(detail: str) -> OpError:
    return OpError("4001", "Invalid query", f"QueryValidationError: {detail}")


@dataclass
class Query:
    entity: str
    count: bool
    predicates: list[Predicate]
    mentions_active: bool
    order: str | None
    descending: bool
    start: int
    limit: int


def parse(text: str, co: Company) -> Query:
    match = STATEMENT.match(text or "")
    if not match:
        raise parser_error(f'Encountered unexpected text in "{(text or "").strip()[:80]}"')
    name = match["entity"].lower()
    entity = ENTITIES.get(name) or HELD_NONE.get(name)
    if entity is None:
        raise validation_error(f"invalid context declaration: {match['entity']}")
    predicates, mentions_active = [], False
    if match["where"]:
        if re.search(r"\bOR\b", match["where"], re.IGNORECASE):
            raise parser_error("OR is not supported")
        for part in AND_SPLIT.split(match["where"]):
            if entity in HELD_NONE.values():
                _check_syntax(part)
                continue
            field, predicate = _condition(part, entity, co)
            predicates.append(predicate)
            mentions_active = mentions_active or field == "Active"
    order = match["order"]
    if order and entity not in HELD_NONE.values():
        order = _field(order, entity)
    return Query(
        entity=entity,
        count=match["select"] != "*",
        predicates=predicates,
        mentions_active=mentions_active,
        order=order,
        descending=(match["direction"] or "").upper() == "DESC",
        start=max(1, int(match["start"] or 1)),
        limit=min(MAX_RESULTS, int(match["max"] or DEFAULT_RESULTS)),
    )


def _field(name: str, entity: str) -> str:
    canonical = (
        "MetaData." + name.split(".", 1)[1] if name.lower().startswith("metadata.") else name
    )
    allowed = COMMON + QUERYABLE.get(entity, ())
    for candidate in allowed:
        if candidate.lower() == canonical.lower():
            return candidate
    raise validation_error(f"property '{name}' is not queryable")


def _literal(text: str) -> Any:
    match = VALUE.fullmatch(text.strip())
    if not match:
        raise parser_error(f'Encountered "{text.strip()[:40]}"')
    if match.group(1) is not None:
        return match.group(1).replace("\\'", "'")
    if match.group(2) is not None:
        return match.group(2).lower() == "true"
    return match.group(3)


def _values(op: str, text: str) -> list[Any]:
    if op != "IN":
        return [_literal(text)]
    inner = text.strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise parser_error("IN needs a parenthesised list")
    parts = re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s()]+", inner[1:-1])
    if not parts:
        raise parser_error("IN needs at least one value")
    return [_literal(part) for part in parts]


def _check_syntax(text: str) -> None:
    """A condition on an entity the sandbox holds none of: well formed, whatever its field."""
    match = CONDITION.match(text)
    if not match:
        raise parser_error(f'Encountered "{text.strip()[:60]}"')
    _values(match["op"].upper(), match["value"])


def _condition(text: str, entity: str, co: Company) -> tuple[str, Predicate]:
    match = CONDITION.match(text)
    if not match:
        raise parser_error(f'Encountered "{text.strip()[:60]}"')
    field = _field(match["field"], entity)
    op = match["op"].upper()
    values = [_coerce(field, value, co) for value in _values(op, match["value"])]
    getter = _getter(field, entity, co)
    return field, _predicate(getter, op, values)


def _coerce(field: str, value: Any, co: Company) -> Any:
    if field.startswith("MetaData."):
        try:
            return parse_instant(str(value), co.tz).timestamp()
        except ValueError as exc:
            raise parser_error(f"invalid date-time '{value}'") from exc
    if field in ("Id", "Balance", "TotalAmt"):
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise parser_error(f"invalid number '{value}'") from exc
    if field == "Active" and isinstance(value, str):
        return value.lower() == "true"
    return value


def _getter(field: str, entity: str, co: Company) -> Callable[[str, dict[str, Any]], Any]:
    if field == "MetaData.LastUpdatedTime":
        stamps = co.updated[entity]
        return lambda entity_id, _: stamps[entity_id]
    if field == "MetaData.CreateTime":
        return lambda _, e: datetime.fromisoformat(e["MetaData"]["CreateTime"]).timestamp()
    if field == "Id":
        return lambda entity_id, _: Decimal(entity_id)

    def get(_: str, e: dict[str, Any]) -> Any:
        value = e.get(field)
        if isinstance(value, dict):
            value = value.get("value", value.get("Address"))
        return value

    return get


def _predicate(get: Callable[[str, dict[str, Any]], Any], op: str, values: list[Any]) -> Predicate:
    target = values[0]
    if op == "LIKE":
        pattern = re.compile("^" + re.escape(str(target)).replace("%", ".*") + "$", re.IGNORECASE)
        return lambda i, e: get(i, e) is not None and bool(pattern.match(str(get(i, e))))
    compare: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: v == target,
        "!=": lambda v: v != target,
        "<": lambda v: v < target,
        "<=": lambda v: v <= target,
        ">": lambda v: v > target,
        ">=": lambda v: v >= target,
        "IN": lambda v: v in values,
    }
    check = compare[op]

    def predicate(entity_id: str, entity: dict[str, Any]) -> bool:
        value = get(entity_id, entity)
        if value is None:
            return False
        try:
            return check(value)
        except TypeError:
            return False

    return predicate


def respond(text: str, co: Company) -> dict[str, Any]:
    """The QueryResponse body for a statement: a page, a count, or {} past the last row. Call
    under the store lock."""
    parsed = parse(text, co)
    rows, total = execute(parsed, co)
    if parsed.count:
        return {"totalCount": total}
    if rows:
        return {parsed.entity: rows, "startPosition": parsed.start, "maxResults": len(rows)}
    return {}


def execute(query: Query, co: Company) -> tuple[list[dict[str, Any]], int]:
    """(page of entities, total matching). Call under the store lock."""
    if query.entity not in co.entities:
        return [], 0
    rows = co.entities[query.entity]
    predicates = list(query.predicates)
    if query.entity in NAME_LISTS and not query.mentions_active:
        predicates.append(lambda _, e: e.get("Active", True))
    matched = [i for i, e in rows.items() if all(p(i, e) for p in predicates)]
    if query.count:
        return [], len(matched)
    key = _sort_key(query, co)
    matched.sort(key=key, reverse=query.descending)
    page = matched[query.start - 1 : query.start - 1 + query.limit]
    return [rows[i] for i in page], len(matched)


def _sort_key(query: Query, co: Company) -> Callable[[str], Any]:
    rows, stamps = co.entities[query.entity], co.updated[query.entity]
    if query.order == "MetaData.LastUpdatedTime":
        return lambda i: (stamps[i], int(i))
    if query.order in (None, "Id"):
        return int
    getter = _getter(query.order, query.entity, co)
    return lambda i: (str(getter(i, rows[i]) or ""), int(i))


def cdc(co: Company, names: list[str], since: datetime, now: datetime) -> list[dict[str, Any]]:
    """CDC QueryResponse list; at most CDC_CAP objects in all, oldest changes first."""
    if since < now - timedelta(days=CDC_DAYS):
        raise OpError("2010", "Invalid request", "changedSince must be within the last 30 days")
    wanted = []
    for name in names:
        key = name.strip().lower()
        entity = ENTITIES.get(key) or HELD_NONE.get(key)
        if entity not in CDC_ENTITIES and (entity is None or entity in NO_CDC):
            raise validation_error(f"invalid entity for CDC: {name}")
        wanted.append(entity)
    cutoff = since.timestamp()
    changed = []
    for entity in wanted:
        for entity_id, stamp in co.updated.get(entity, {}).items():
            if stamp >= cutoff:
                changed.append((stamp, int(entity_id), entity, entity_id))
    changed.sort()
    kept: dict[str, list[dict[str, Any]]] = {entity: [] for entity in wanted}
    for _, _, entity, entity_id in changed[:CDC_CAP]:
        row = co.entities[entity].get(entity_id) or co.deleted[entity].get(entity_id)
        if row is not None:
            kept[entity].append(row)
    return [
        {entity: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {}
        for entity, rows in kept.items()
    ]
