"""`POST /webhooks/<provider>`: verify, hand over to Redis, answer at once.

The signature is checked over the raw bytes before anything else is looked at. A validly signed
body is appended as it is to the webhook stream (webhooks.stream) and answered 200; the drain
job parses it, records its events in the inbox (deduplicated, an unreadable event set aside
with the reason) and asks for one coalesced sync per organization. No provider call and no
database write happen inside the request, and no cookie is ever set here.

The route is a small WSGI app mounted in front of Flask (`mount`): a provider sends no cookie,
no form and reads no page, so the browser machinery (the server-side session, CSRF, the
template context, the security headers of pages) is skipped, and the acknowledgement costs
about what a bare Flask route does plus one Redis round trip (docs/benchmarks.md). The same
app also runs alone (`create_receiver`), so webhooks can have processes of their own.

When Redis cannot take the body (refused, or no answer within 2 s), the request records the
events in the database itself, as the drain would, and still answers 200: providers do retry
a non-2xx answer, but on their own schedule (hours, for Intuit) and Xero turns off a
subscription that keeps failing; the inbox row is safe, and the safety-net sync picks it up
once Redis is back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.settings import Settings
from providers import PROVIDERS
from providers import provider_class
from webhooks.drain import parse
from webhooks.inbox import record_notices
from webhooks.jobs import acknowledge

log = logging.getLogger(__name__)
PREFIX = "/webhooks"
REDIS_TIMEOUT_SECONDS = 2.0  # a Redis that hangs is away too: the request records the events


def mount(app: Flask) -> None:
    """Serve `POST /webhooks/<provider>` ahead of the Flask app (every other path goes on)."""
    ext = app.extensions["dunwell"]
    receiver = WebhookReceiver(ext["settings"], _redis(ext["settings"]), ext["sessions"])
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PREFIX: receiver})  # type: ignore[method-assign]


def create_receiver(settings: Settings | None = None) -> DispatcherMiddleware:
    """The webhook route alone, for processes of their own that never run a page or a
    backtest (demo.stack's `hooks`): `gunicorn 'connector.webhooks:create_receiver()'`."""
    settings = settings or Settings.from_env()
    sessions = make_session_factory(make_engine(settings.database_url))
    receiver = WebhookReceiver(settings, _redis(settings), sessions)
    return DispatcherMiddleware(NotFound(), {PREFIX: receiver})


def _redis(settings: Settings) -> Redis:
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )


class WebhookReceiver:
    """The WSGI app of the webhook route; PATH_INFO is `/<provider>`."""

    def __init__(self, settings: Settings, redis: Redis, sessions: sessionmaker[Session]):
        self.settings = settings
        self.redis = redis
        self.sessions = sessions

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        request.max_content_length = self.settings.webhook_max_bytes
        return self.receive(request)(environ, start_response)

    def receive(self, request: Request) -> Response:
        provider = request.path.strip("/")
        if provider not in PROVIDERS:
            return _error(404, f"Unknown accounting system {provider!r}.")
        if request.method != "POST":
            return _error(405, "Webhooks are POSTed.")
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return _error(413, f"The body is larger than {request.max_content_length} bytes.")
        cls = provider_class(provider)
        key = self.settings.provider(provider).webhook_key
        if not key or not cls.verify_webhook(request.headers, body, key):  # type: ignore[arg-type]
            return Response(b"", status=cls.bad_signature_status)
        try:
            acknowledge(self.redis, provider, body)
        except RedisError:
            log.warning("Redis is away: a %s webhook is recorded in the database", provider)
            with session_scope(self.sessions) as db:
                record_notices(db, provider, parse(provider, body))
        return Response(b"", status=200)


def _error(status: int, message: str) -> Response:
    body = json.dumps({"error": message, "status": status})
    return Response(body, status=status, mimetype="application/json")
