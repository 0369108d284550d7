"""`POST /webhooks/<provider>`: verify, record, enqueue, answer at once.

The signature is checked over the raw bytes before anything else is looked at. Events are
stored in the inbox (connector.inbox), deduplicated on the provider's own key, and one coalesced
sync is enqueued per organization. A validly signed delivery is always answered 200: an event
that cannot be read, or a body that is not the provider's JSON at all, is set aside in the inbox
with the reason, and the rest of the delivery is processed. No provider call happens inside
the request, no cookie is ever set here, and a signed delivery is acknowledged even if Redis is
briefly away: the inbox keeps the events and the safety-net sync picks them up.
"""

from __future__ import annotations

import logging

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request

from connector import web
from connector.inbox import record_notices
from providers import PROVIDERS
from providers import provider_class
from providers.webhook_events import unreadable_body
from sync.jobs import request_sync

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
        notices = cls.parse_webhook(body)
    except ValueError as exc:
        notices = [unreadable_body(body, f"unreadable delivery: {exc}")]
    org_ids = record_notices(web.db(), provider, notices)
    _enqueue_syncs(org_ids)
    return Response(b"", status=200)


def _enqueue_syncs(org_ids: set[int]) -> None:
    ctx = web.job_context()
    for org_id in sorted(org_ids):
        try:
            request_sync(ctx, org_id)
        except Exception:  # noqa: BLE001 - the inbox holds the events; the safety net syncs
            log.exception("could not enqueue the sync of organization %s", org_id)
