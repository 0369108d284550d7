"""Query statements, query paging and CDC answers (raw QuickBooks objects, no mapping).

Full listings page with STARTPOSITION (1-based) and MAXRESULTS 1000, ordered by
Metadata.LastUpdatedTime, until a short page. Customers are a name list: without
`Active IN (true,false)` QuickBooks returns active ones only, and invoices would point at customers
we never loaded. CDC answers nest as CDCResponse[].QueryResponse[].<Entity>[] and may hold a
single object instead of a list.

An invoice's online payment link (InvoiceLink) comes back only when the request says
`include=invoiceLink`, so every invoice read, query and CDC call asks for it (`includes`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sized
from datetime import datetime
from typing import Any
from typing import TypeVar

from providers.base import Entity
from providers.base import Unavailable
from providers.quickbooks import typed
from providers.quickbooks.api import PAGE_SIZE
from providers.quickbooks.api import QuickBooksApi
from providers.quickbooks.api import decode_answer
from providers.quickbooks.api import qbo_timestamp
from providers.quickbooks.faults import json_fault

CDC_CAP = 1000
NAMES = {
    Entity.CUSTOMER: "Customer",
    Entity.INVOICE: "Invoice",
    Entity.PAYMENT: "Payment",
    Entity.CREDIT_NOTE: "CreditMemo",
}
PATHS = {entity: name.lower() for entity, name in NAMES.items()}
NAME_LISTS = {Entity.CUSTOMER}
INVOICE_LINK = "invoiceLink"
_Page = TypeVar("_Page", bound=Sized)


def includes(entities: list[Entity] | tuple[Entity, ...]) -> str | None:
    """The `include` a read of `entities` needs: the payment link whenever invoices are read."""
    return INVOICE_LINK if Entity.INVOICE in entities else None


def statement(entity: Entity, since: datetime | None = None, start: int = 1) -> str:
    """`SELECT * FROM X [WHERE ...] ORDERBY Metadata.LastUpdatedTime STARTPOSITION n ...`."""
    conditions = []
    if entity in NAME_LISTS:
        conditions.append("Active IN (true,false)")
    if since is not None:
        conditions.append(f"Metadata.LastUpdatedTime >= '{qbo_timestamp(since)}'")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT * FROM {NAMES[entity]}{where} ORDERBY Metadata.LastUpdatedTime"
        f" STARTPOSITION {start} MAXRESULTS {PAGE_SIZE}"
    )


def query_pages(
    api: QuickBooksApi, entity: Entity, since: datetime | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Raw objects page by page, oldest first, until a short page."""

    def page(start: int) -> list[dict[str, Any]]:
        response = api.query(statement(entity, since, start), includes((entity,)))
        return objects_in(response.get(NAMES[entity]))

    return _paged(page)


def invoice_pages(
    api: QuickBooksApi, since: datetime | None = None
) -> Iterator[list[typed.QboInvoice] | list[dict[str, Any]]]:
    """Invoices page by page as `query_pages` lists them, each page decoded into typed Structs;
    a page the typed decoder cannot take whole comes as raw objects instead."""

    def page(start: int) -> list[typed.QboInvoice] | list[dict[str, Any]]:
        answer = api.query_call(statement(Entity.INVOICE, since, start), INVOICE_LINK)
        rows = typed.invoices(answer.content)
        if rows is not None:
            return rows
        response = decode_answer(answer).get("QueryResponse")
        return objects_in(response.get("Invoice") if isinstance(response, dict) else None)

    return _paged(page)


def payment_pages(
    api: QuickBooksApi, since: datetime | None = None
) -> Iterator[list[typed.QboPayment] | list[dict[str, Any]]]:
    """Payments page by page as `query_pages` lists them, each page decoded into typed Structs;
    a page the typed decoder cannot take whole comes as raw objects instead."""

    def page(start: int) -> list[typed.QboPayment] | list[dict[str, Any]]:
        answer = api.query_call(statement(Entity.PAYMENT, since, start))
        rows = typed.payments(answer.content)
        if rows is not None:
            return rows
        response = decode_answer(answer).get("QueryResponse")
        return objects_in(response.get("Payment") if isinstance(response, dict) else None)

    return _paged(page)


def _paged(page: Callable[[int], _Page]) -> Iterator[_Page]:
    """`page(start)` for start = 1, 1 + PAGE_SIZE, ... until a short page (empty ones unsaid)."""
    start = 1
    while True:
        rows = page(start)
        if rows:
            yield rows
        if len(rows) < PAGE_SIZE:
            return
        start += PAGE_SIZE


def term_statement() -> str:
    # Terms are a name list too; invoices may still reference an inactive term.
    return f"SELECT * FROM Term WHERE Active IN (true,false) STARTPOSITION 1 MAXRESULTS {PAGE_SIZE}"


def cdc_objects(answer: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{QuickBooks entity name: [objects]} from a CDC answer. A Fault inside it (an answer in
    part) is an outage: a sync that took the rest would move its cursors past what is missing."""
    found: dict[str, list[dict[str, Any]]] = {}
    for block in objects_in(answer.get("CDCResponse")):
        for response in [block, *objects_in(block.get("QueryResponse"))]:
            fault = json_fault(response)
            if fault is not None:
                raise Unavailable(f"QuickBooks' change feed answered in part: {fault.describe()}")
        for response in objects_in(block.get("QueryResponse")):
            for name, value in response.items():
                if name in NAMES.values():
                    found.setdefault(name, []).extend(objects_in(value))
    return found


def objects_in(value: Any) -> list[dict[str, Any]]:
    """A list of JSON objects from a list, a single object, or nothing."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []
