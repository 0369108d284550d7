"""QuickBooks Fault bodies -> readable messages and Dunwell's error types.

QuickBooks reports errors in three shapes: the documented JSON `{"Fault": {"Error": [{"Message",
"Detail", "code"}], "type": ...}}`, a lower-case variant (`fault.error[].message`, seen on 401s),
and XML (`<IntuitResponse><Fault><Error code="3001">...`), which throttling answers use even when
JSON was asked for. Everything here works on the raw bytes and never raises while parsing.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from providers.base import Conflict
from providers.base import NotFound
from providers.base import ProviderError
from providers.base import RateLimited
from providers.base import Reauthorize
from providers.base import Rejected

STALE_OBJECT = "5010"
OBJECT_NOT_FOUND = "610"
THROTTLED = "3001"
AUTH_CODES = ("3100", "3200")
AUTH_TYPES = ("AUTHENTICATION", "AUTHORIZATIONFAULT")


@dataclass(frozen=True)
class FaultError:
    message: str = ""
    detail: str = ""
    code: str = ""


@dataclass(frozen=True)
class Fault:
    type: str = ""
    errors: tuple[FaultError, ...] = ()

    @property
    def code(self) -> str:
        return self.errors[0].code if self.errors else ""

    def describe(self) -> str:
        """'<Message>: <Detail> (code N)' for the first error, or a placeholder."""
        if not self.errors:
            return "no error details were given"
        first = self.errors[0]
        text = first.message or "error"
        detail = _strip_repeated_message(first.message, first.detail)
        if detail:
            text = f"{text}: {detail}"
        text = redact(text)
        return f"{text} (code {first.code})" if first.code else text

    def mentions(self, needle: str) -> bool:
        needle = needle.lower()
        return any(needle in f"{e.message} {e.detail}".lower() for e in self.errors)


def parse_fault(body: bytes) -> Fault | None:
    """The Fault in a response body (JSON in either case, or XML), None when there is none."""
    text = body.decode("utf-8", "replace").strip()
    if text.startswith("<"):
        return _xml_fault(text)
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return json_fault(data) if isinstance(data, dict) else None


def json_fault(data: dict[str, Any]) -> Fault | None:
    raw = data.get("Fault") or data.get("fault")
    if not isinstance(raw, dict):
        return None
    items = raw.get("Error") or raw.get("error") or []
    errors = tuple(_json_error(item) for item in items if isinstance(item, dict))
    return Fault(type=str(raw.get("type") or ""), errors=errors)


def _json_error(item: dict[str, Any]) -> FaultError:
    def pick(*names: str) -> str:
        for name in names:
            value = item.get(name)
            if value is not None:
                return str(value)
        return ""

    return FaultError(pick("Message", "message"), pick("Detail", "detail"), pick("code", "Code"))


_XML_FAULT_TYPE = re.compile(r"<(?:\w+:)?Fault\b[^>]*\btype=\"([^\"]*)\"", re.S)
_XML_ERROR = re.compile(r"<(?:\w+:)?Error\b([^>]*)>(.*?)</(?:\w+:)?Error>", re.S)
_XML_CODE = re.compile(r"\bcode=\"([^\"]*)\"")


def _xml_fault(text: str) -> Fault | None:
    errors = []
    for attrs, inner in _XML_ERROR.findall(text):
        code = _XML_CODE.search(attrs)
        errors.append(
            FaultError(
                message=_xml_child(inner, "Message"),
                detail=_xml_child(inner, "Detail"),
                code=code.group(1) if code else "",
            )
        )
    fault_type = _XML_FAULT_TYPE.search(text)
    if not errors and not fault_type:
        return None
    return Fault(type=fault_type.group(1) if fault_type else "", errors=tuple(errors))


def _xml_child(inner: str, name: str) -> str:
    found = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", inner, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


# Auth faults echo token fragments ("Token expired: AB0160..."); messages reach logs and admins.
_TOKENISH = re.compile(
    r"eyJ[\w-]*(?:\.[\w-]*)+"  # JWT / JWE access tokens
    r"|(?=[\w+/=-]*\d)(?=[\w+/=-]*[A-Za-z])[\w+/=-]{24,}"  # long mixed runs (refresh tokens)
)


def redact(text: str) -> str:
    """`text` with anything that looks like a token replaced."""
    return _TOKENISH.sub("[redacted]", text)


def _strip_repeated_message(message: str, detail: str) -> str:
    # Details often repeat the message: "Object Not Found : Something you're trying ...".
    if message and detail.startswith(message):
        rest = detail[len(message) :].lstrip(" :")
        return rest or ""
    return detail


def is_throttle(fault: Fault | None) -> bool:
    return fault is not None and (fault.code == THROTTLED or fault.mentions("ThrottleExceeded"))


def is_auth(fault: Fault | None) -> bool:
    if fault is None:
        return False
    return fault.type.upper() in AUTH_TYPES or fault.code in AUTH_CODES


def error_for(status: int, fault: Fault | None) -> ProviderError:
    """The error to raise for a non-retryable 4xx answer."""
    described = fault.describe() if fault else f"HTTP {status} without a readable fault"
    code = fault.code if fault else None
    kw: dict[str, Any] = {"status": status, "code": code or None}
    missing = fault is not None and (code == OBJECT_NOT_FOUND or fault.mentions("Object Not Found"))
    if status == 404 or missing:
        return NotFound(f"QuickBooks could not find the object: {described}", **kw)
    if code == STALE_OBJECT:
        return Conflict(f"QuickBooks reports a newer version (stale SyncToken): {described}", **kw)
    if is_throttle(fault):
        return RateLimited(f"QuickBooks throttled the request: {described}", **kw)
    if status in (401, 403) and is_auth(fault):
        return Reauthorize(f"QuickBooks refused the authorization: {described}", **kw)
    return Rejected(f"QuickBooks rejected the request: {described}", **kw)
