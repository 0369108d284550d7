"""Online invoice links: `GET Invoices/{id}/OnlineInvoice` -> `OnlineInvoices[0].OnlineInvoiceUrl`.

One call per invoice (Xero has no batch form). Xero refuses a DRAFT invoice with a 400; that
invoice, like an unknown id, simply has no link. Any other error is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from providers.base import NotFound
from providers.base import Rejected
from providers.xero.api import XeroApi
from providers.xero.reads import documents


def invoice_links(api: XeroApi, invoice_ids: Sequence[str]) -> dict[str, str]:
    links: dict[str, str] = {}
    for invoice_id in dict.fromkeys(invoice_ids):
        link = online_invoice_url(api, invoice_id)
        if link:
            links[invoice_id] = link
    return links


def online_invoice_url(api: XeroApi, invoice_id: str) -> str | None:
    try:
        doc = api.get(f"Invoices/{quote(invoice_id, safe='')}/OnlineInvoice")
    except (Rejected, NotFound):
        return None
    found = documents(doc, "OnlineInvoices")
    url = found[0].get("OnlineInvoiceUrl") if found else None
    return str(url) if url else None
