"""`POST /webhooks/<provider>`: verify, hand over to Redis, answer at once.

The signature is checked over the raw bytes before anything else is looked at. A validly signed
body is appended as it is to the webhook stream (webhooks.stream) and answered 200; the drain
job parses it, records its events in the inbox (deduplicated, an unreadable event set aside
with the reason) and asks for one coalesced sync per organization. No provider call and no
database write happen inside the request, and no cookie is ever set here.

When Redis cannot take the body, the request records the events in the database itself, as
the drain would, and still answers 200: providers do retry a non-2xx answer, but on their own
schedule (hours, for Intuit) and Xero turns off a subscription that keeps failing; the inbox
row is safe, and the safety-net sync picks it up once Redis is back.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from redis.exceptions import RedisError

from connector import web
from providers import PROVIDERS
from providers import provider_class
from webhooks.drain import parse
from webhooks.inbox import record_notices
from webhooks.jobs import acknowledge

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/<provider>")
def receive(provider: str) -> Response:
    if provider not in PROVIDERS:
        abort(404, f"Unknown accounting system {provider!r}.")
    cls = provider_class(provider)
    key = web.settings().provider(provider).webhook_key
    body = request.get_data(cache=False)
    headers = request.headers  # a Mapping that ignores case, as header names do
    if not key or not cls.verify_webhook(headers, body, key):  # type: ignore[arg-type]
        return Response(b"", status=cls.bad_signature_status)
    try:
        acknowledge(web.redis(), provider, body)
    except RedisError:
        log.warning("Redis is away: a %s webhook is recorded in the database", provider)
        record_notices(web.db(), provider, parse(provider, body))
    return Response(b"", status=200)
