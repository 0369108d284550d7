"""Reading receivables from Xero: incremental listings and reads by id.

Listings use the `If-Modified-Since` HEADER (as a query parameter Xero silently ignores it:
xero-node#198), `order=UpdatedDateUTC ASC` and `page`/`pageSize` (up to 1000 since July 2024);
a page shorter than pageSize, or `pagination.pageCount`, ends the listing. Contacts need
`includeArchived=true` or archived ones never show up. Reads by id use `IDs=` on Invoices and
Contacts (large organisations reject `where=InvoiceID==...` as "not filtering efficiently",
pyxero#373) and the /{id} path elsewhere. Even a single document comes back in an array.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from itertools import count
from itertools import islice
from typing import Any
from urllib.parse import quote

from providers.base import AnyRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import NotFound
from providers.xero import mapping
from providers.xero import typed
from providers.xero.api import XeroApi
from providers.xero.api import decode
from providers.xero.dates import if_modified_since

PAGE_SIZE = 1000
# IDs= travels in the query string; about 50 GUIDs fit in a URL (Xero-Java#331).
IDS_PER_CALL = 50

Mapper = Callable[[dict[str, Any]], AnyRecord | None]


@dataclass(frozen=True)
class Stream:
    path: str
    mapper: Mapper
    params: Mapping[str, str] = field(default_factory=dict)
    # Listing pages through providers.xero.typed (None when it cannot take the page whole).
    typed: Callable[[bytes], _Page | None] | None = None


@dataclass(frozen=True)
class _Page:
    records: list[AnyRecord]
    size: int  # documents on the page, receivables or not
    count: int | None  # pages in the listing, when Xero says


def _typed_invoices(body: bytes) -> _Page | None:
    """An Invoices page through the typed decoder (see `typed`); None when it cannot take it."""
    page = typed.invoices_page(body)
    if page is None:
        return None
    records: list[AnyRecord] = [r for raw in page.Invoices if (r := typed.invoice(raw)) is not None]
    return _Page(records, len(page.Invoices), page.page_count)


def _typed_payments(body: bytes) -> _Page | None:
    """A Payments page through the typed decoder; None when it cannot take it."""
    page = typed.payments_page(body)
    if page is None:
        return None
    records: list[AnyRecord] = [r for raw in page.Payments if (r := typed.payment(raw)) is not None]
    return _Page(records, len(page.Payments), page.page_count)


STREAMS: dict[Entity, tuple[Stream, ...]] = {
    Entity.CUSTOMER: (Stream("Contacts", mapping.customer, {"includeArchived": "true"}),),
    # Type is one of Xero's optimised filters; bills are also dropped by the mapper.
    Entity.INVOICE: (
        Stream("Invoices", mapping.invoice, {"where": 'Type=="ACCREC"'}, _typed_invoices),
    ),
    Entity.PAYMENT: (Stream("Payments", mapping.payment, typed=_typed_payments),),
    # Over- and prepayments are customer credit too (see mapping.py).
    Entity.CREDIT_NOTE: (
        Stream("CreditNotes", mapping.credit_note, {"where": 'Type=="ACCRECCREDIT"'}),
        Stream("Overpayments", mapping.overpayment),
        Stream("Prepayments", mapping.prepayment),
    ),
}

_CREDIT_PATHS = (
    (mapping.OVERPAYMENT_PREFIX, Stream("Overpayments", mapping.overpayment)),
    (mapping.PREPAYMENT_PREFIX, Stream("Prepayments", mapping.prepayment)),
    ("", Stream("CreditNotes", mapping.credit_note)),
)


def list_changed(api: XeroApi, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
    """Pages of records changed at or after `since`, oldest first across all of the entity's
    endpoints (credit notes, overpayments and prepayments are merged by updated_at)."""
    headers = {"If-Modified-Since": if_modified_since(since)} if since else {}
    streams = [_records(api, stream, headers) for stream in STREAMS[entity]]
    merged = heapq.merge(*streams, key=lambda record: record.updated_at)
    while page := list(islice(merged, PAGE_SIZE)):
        yield page


def _records(api: XeroApi, stream: Stream, headers: Mapping[str, str]) -> Iterator[AnyRecord]:
    for number in count(1):
        params = {
            **stream.params,
            "page": str(number),
            "pageSize": str(PAGE_SIZE),
            "order": "UpdatedDateUTC ASC",
        }
        answer = api.call("GET", stream.path, params=params, headers=headers)
        page = stream.typed(answer.content) if stream.typed else None
        if page is None:
            page = _page(stream, decode(answer))
        yield from page.records
        if page.size < PAGE_SIZE or (page.count is not None and number >= page.count):
            return


def _page(stream: Stream, doc: Any) -> _Page:
    items = documents(doc, stream.path)
    pagination = doc.get("pagination") if isinstance(doc, dict) else None
    page_count = pagination.get("pageCount") if isinstance(pagination, dict) else None
    count = page_count if isinstance(page_count, int) else None
    return _Page(list(_mapped(stream.mapper, items)), len(items), count)


def get(api: XeroApi, entity: Entity, external_id: str) -> AnyRecord | None:
    """One receivable by id; None when Xero has none (or it is a bill, supplier credit, ...)."""
    if entity is Entity.CUSTOMER:
        found = by_ids(api, STREAMS[Entity.CUSTOMER][0], [external_id])
    elif entity is Entity.INVOICE:
        found = by_ids(api, Stream("Invoices", mapping.invoice), [external_id])
    elif entity is Entity.PAYMENT:
        found = _by_path(api, Stream("Payments", mapping.payment), external_id)
    else:
        prefix, stream = credit_stream(external_id)
        found = _by_path(api, stream, external_id[len(prefix) :])
    wanted = external_id.lower()
    return next((record for record in found if record.external_id.lower() == wanted), None)


def invoices(api: XeroApi, invoice_ids: Iterable[str]) -> list[InvoiceRecord]:
    """Sales invoices by id, IDS_PER_CALL per request."""
    found = by_ids(api, Stream("Invoices", mapping.invoice), list(invoice_ids))
    return [record for record in found if isinstance(record, InvoiceRecord)]


def by_ids(api: XeroApi, stream: Stream, ids: list[str]) -> list[AnyRecord]:
    records: list[AnyRecord] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        params = {**stream.params, "IDs": ",".join(ids[start : start + IDS_PER_CALL])}
        records.extend(_mapped(stream.mapper, documents(api.get(stream.path, params), stream.path)))
    return records


def _by_path(api: XeroApi, stream: Stream, xero_id: str) -> list[AnyRecord]:
    try:
        doc = api.get(f"{stream.path}/{quote(xero_id, safe='')}")
    except NotFound:
        return []
    return list(_mapped(stream.mapper, documents(doc, stream.path)))


def credit_stream(external_id: str) -> tuple[str, Stream]:
    """The id prefix and the endpoint behind a credit-note external id."""
    return next((p, s) for p, s in _CREDIT_PATHS if external_id.startswith(p))


def documents(doc: Any, key: str) -> list[dict[str, Any]]:
    """The array under `key` of a Xero answer (single documents are arrays too)."""
    items = doc.get(key) if isinstance(doc, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def _mapped(mapper: Mapper, items: list[dict[str, Any]]) -> Iterator[AnyRecord]:
    for item in items:
        record = mapper(item)
        if record is not None:
            yield record
