"""Query answers through the page cache (sandbox.page_cache): the JSON of a statement's
QueryResponse, rendered once per data version, for /query and for the Query items of /batch."""

from __future__ import annotations

from flask import current_app
from flask import request

from sandbox import page_cache
from sandbox.quickbooks.online import wants_links
from sandbox.quickbooks.online import with_links
from sandbox.quickbooks.query import respond
from sandbox.quickbooks.state import current
from sandbox.quickbooks.wire import dumps


def query_answer(realm_id: str, statement: str) -> str:
    """The JSON text of the QueryResponse `statement` gets (with payment links when the request
    asks for them); an unreadable statement raises OpError, as `respond` does."""
    store = current().store
    key = ("qbo-query", realm_id, statement, wants_links(), request.host_url, store.version)

    def render() -> tuple[str]:
        with store.lock:
            body = respond(statement, store.company(realm_id))
        return (dumps(with_links(realm_id, {"QueryResponse": body})["QueryResponse"]),)

    return page_cache.current(current_app).page(key, render)[0]
