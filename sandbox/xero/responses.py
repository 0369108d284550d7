"""Xero's response bodies: the list envelope, problem details, ValidationException."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Response

from sandbox.xero import dates
from sandbox.xero.clock import Clock
from sandbox.xero.store import Invalid

PROVIDER_NAME = "Dunwell"
NOT_FOUND = "The resource you're looking for cannot be found"


def dumps(body: Any) -> str:
    # Flask's jsonify sorts keys; Xero's order is kept instead.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_text_response(dumps(body), status, headers)


def json_text_response(
    text: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer already rendered (see sandbox.page_cache)."""
    return Response(
        text, status=status, headers=headers, content_type="application/json; charset=utf-8"
    )


def envelope(
    clock: Clock, key: str, items: list[Any] | str, pagination: dict[str, int] | str | None = None
) -> dict[str, Any]:
    """The list envelope; `items` and `pagination` may be markers of parts rendered before
    (sandbox.page_cache.spliced)."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": PROVIDER_NAME,
        "DateTimeUTC": dates.net_plain(clock.now()),
    }
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = items
    return body


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return json_response(body, status, headers)


def unauthorized(detail: str) -> Response:
    return problem(
        401, "Unauthorized", detail, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def forbidden() -> Response:
    return problem(403, "Forbidden", "AuthenticationUnsuccessful")


def not_found() -> Response:
    return problem(404, "Not Found", NOT_FOUND)


def validation_error(error: Invalid) -> Response:
    element = dict(error.element)
    element["ValidationErrors"] = [{"Message": message} for message in error.messages]
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [element],
    }
    return json_response(body, 400)


def query_error(message: str) -> Response:
    body = {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}
    return json_response(body, 400)
