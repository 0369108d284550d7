"""POST /qbo/v3/company/<realmId>/batch: several operations in one request.

    {"BatchItemRequest": [{"bId": "invoices", "Query": "SELECT * FROM Invoice ..."}, ...]}
 -> {"BatchItemResponse": [{"bId": "invoices", "QueryResponse": {...}}, ...], "time": "..."}

Each item is answered on its own, in order, under its `bId`: a Query item exactly as /query
answers it, a failing item with its own Fault while the others go on (the shape of Intuit's
published responses). Intuit allows 30 items in a batch and 40 batch requests a minute per
company. The sandbox runs Query items only: a create, update or delete item is answered with an
"Unsupported Operation" Fault, so a client never mistakes it for a write that happened.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask import request

from sandbox.page_cache import marker
from sandbox.page_cache import spliced
from sandbox.quickbooks import updates
from sandbox.quickbooks.answers import query_answer
from sandbox.quickbooks.online import with_links
from sandbox.quickbooks.query import respond
from sandbox.quickbooks.state import current
from sandbox.quickbooks.state import render
from sandbox.quickbooks.state import stamped
from sandbox.quickbooks.state import wants_json
from sandbox.quickbooks.store import Company
from sandbox.quickbooks.store import OpError
from sandbox.quickbooks.wire import dumps
from sandbox.quickbooks.wire import json_text_response
from sandbox.quickbooks.wire import throttle_response

MAX_ITEMS = 30


def run(realm_id: str) -> Response:
    items = _items()
    state = current()
    if not state.batches.enter(realm_id):
        return throttle_response(state.realm_time(realm_id))
    # In JSON, each Query item's answer comes through the page cache (see answers.py).
    cached: list[str] | None = [] if wants_json() else None
    try:
        with state.store.lock:
            company = state.store.company(realm_id)
            answers = [_answer(item, company, cached) for item in items]
    finally:
        state.batches.leave(realm_id)
    payload = stamped(realm_id, {"BatchItemResponse": answers})
    if cached is None:
        return render(payload)
    return json_text_response(spliced(dumps, payload, cached))


def _items() -> list[Any]:
    body = request.get_json(silent=True)
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise updates.invalid("BatchItemRequest must be a list of batch items")
    if len(items) > MAX_ITEMS:
        raise updates.invalid(f"BatchItemRequest holds {len(items)} items; at most {MAX_ITEMS}")
    return items


def _answer(item: Any, company: Company, cached: list[str] | None) -> dict[str, Any]:
    """One item's answer; with `cached`, a Query item's QueryResponse is appended to it as
    JSON text and the answer holds its marker (sandbox.page_cache.spliced)."""
    if not isinstance(item, dict) or not isinstance(item.get("bId"), str) or not item["bId"]:
        return _fault(updates.invalid("bId: every batch item needs a bId"), None)
    bid = item["bId"]
    if not isinstance(item.get("Query"), str):
        unsupported = OpError(
            "500",
            "Unsupported Operation",
            "Operation is not supported: the sandbox runs only Query items in a batch",
        )
        return _fault(unsupported, bid)
    try:
        if cached is not None:
            cached.append(query_answer(company.realm_id, item["Query"]))
            return {"QueryResponse": marker(len(cached) - 1), "bId": bid}
        body = respond(item["Query"], company)
    except OpError as exc:
        return _fault(exc, bid)
    return with_links(company.realm_id, {"QueryResponse": body}) | {"bId": bid}


def _fault(exc: OpError, bid: str | None) -> dict[str, Any]:
    error = {"Message": exc.message, "Detail": exc.detail, "code": exc.code, "element": ""}
    answer: dict[str, Any] = {"Fault": {"Error": [error], "type": "ValidationFault"}}
    if bid is not None:
        answer["bId"] = bid
    return answer
