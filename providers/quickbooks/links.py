"""Invoices read back by id, with their online payment links (InvoiceLink).

QuickBooks returns an invoice's InvoiceLink only when asked with `include=invoiceLink`, and only
for invoices that accept online payment and have a customer email address. Invoices are read
with one query per hundred ids (`Id IN (...)`); an id QuickBooks does not know is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from providers.quickbooks.api import QuickBooksApi
from providers.quickbooks.listing import INVOICE_LINK
from providers.quickbooks.listing import objects_in

CHUNK = 100


def read_invoices(api: QuickBooksApi, invoice_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The raw invoices with these ids, links included, each once."""
    wanted = list(dict.fromkeys(str(i) for i in invoice_ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(wanted), CHUNK):
        response = api.query(_statement(wanted[start : start + CHUNK]), INVOICE_LINK)
        found.extend(objects_in(response.get("Invoice")))
    return found


def invoice_links(api: QuickBooksApi, invoice_ids: Sequence[str]) -> dict[str, str]:
    return {
        str(raw["Id"]): str(raw["InvoiceLink"])
        for raw in read_invoices(api, invoice_ids)
        if raw.get("InvoiceLink") and raw.get("Id") is not None
    }


def _statement(ids: list[str]) -> str:
    quoted = ", ".join("'" + i.replace("'", "\\'") + "'" for i in ids)
    return f"SELECT * FROM Invoice WHERE Id IN ({quoted}) STARTPOSITION 1 MAXRESULTS {CHUNK}"
