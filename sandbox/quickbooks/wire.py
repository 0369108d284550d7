"""How the QuickBooks sandbox writes things on the wire: JSON, XML, timestamps and Fault bodies.

Money lives in the store as `Decimal` and goes out as a JSON number, as QuickBooks sends it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from flask import Response

CENT = Decimal("0.01")
JSON_TYPE = "application/json;charset=UTF-8"
XML_TYPE = "application/xml"
NAMESPACE = "http://schema.intuit.com/finance/v3"


def money(value: Any) -> Decimal:
    """A Decimal rounded to cents; floats go through str() so 0.1 stays 0.1."""
    return Decimal(str(value)).quantize(CENT)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=_default, separators=(",", ":"))


def stamp(instant: datetime, tz: ZoneInfo) -> str:
    """MetaData times: local wall time with the company's offset, whole seconds."""
    return instant.astimezone(tz).isoformat(timespec="seconds")


def envelope_time(instant: datetime, tz: ZoneInfo) -> str:
    """The `time` of a response envelope: local time with milliseconds."""
    return instant.astimezone(tz).isoformat(timespec="milliseconds")


def utc_millis(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_instant(text: str, tz: ZoneInfo) -> datetime:
    """An ISO date or date-time; values without an offset are company-local."""
    text = text.strip()
    if len(text) == 10:
        parsed = datetime.combine(date.fromisoformat(text), time(0))
    else:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def json_response(payload: Any, status: int = 200) -> Response:
    return json_text_response(dumps(payload), status)


def json_text_response(text: str, status: int = 200) -> Response:
    """A JSON answer already rendered (see sandbox.page_cache)."""
    response = Response(text, status=status, content_type=JSON_TYPE)
    response.headers["intuit_tid"] = str(uuid.uuid4())
    return response


def fault_payload(
    code: str, message: str, detail: str, when: str, kind: str = "ValidationFault"
) -> dict[str, Any]:
    error = {"Message": message, "Detail": detail, "code": code, "element": ""}
    return {"Fault": {"Error": [error], "type": kind}, "time": when}


def auth_fault(detail: str, epoch_ms: int) -> Response:
    """The lower-case 401 body QuickBooks sends when a bearer token is bad or expired."""
    body: dict[str, Any] = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }
    response = json_response(body, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="Intuit", error="invalid_token"'
    return response


def throttle_response(when: str) -> Response:
    """429 always comes back as XML, whatever the Accept header asked for."""
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<IntuitResponse xmlns="{NAMESPACE}" time="{when}">'
        '<Fault type="ServiceFault"><Error code="3001" element="">'
        "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        "<Detail>The request limit was reached.</Detail>"
        "</Error></Fault></IntuitResponse>"
    )
    return Response(body, status=429, content_type=XML_TYPE)


def server_error_response(when: str) -> Response:
    payload = fault_payload(
        "10000",
        "An application error has occurred while processing your request",
        "System Failure Error: An unexpected error occurred while accessing or saving your data.",
        when,
        kind="SystemFault",
    )
    return json_response(payload, 503)


def _xml(name: str, value: Any) -> str:
    if isinstance(value, list):
        return "".join(_xml(name, item) for item in value)
    if isinstance(value, dict):
        inner = "".join(_xml(key, item) for key, item in value.items())
        return f"<{name}>{inner}</{name}>"
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def xml_response(payload: dict[str, Any], status: int) -> Response:
    """What a client that forgot `Accept: application/json` gets: QuickBooks' default XML."""
    when = payload.get("time", "")
    inner = "".join(_xml(key, value) for key, value in payload.items() if key != "time")
    body = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<IntuitResponse xmlns={quoteattr(NAMESPACE)} time={quoteattr(str(when))}>"
        f"{inner}</IntuitResponse>"
    )
    return Response(body, status=status, content_type=XML_TYPE)
