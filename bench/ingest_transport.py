"""The real provider clients, answered by generated pages instead of the network.

A `requests` transport adapter mounted on the Session each client is given: every call the client
makes goes through its own URL building, headers, retries and JSON decoding, and gets a page body
in bytes. Time spent generating those bytes is counted apart (`generating`) so that it can be
taken out of the figures. A call the benchmark does not expect fails loudly.
"""

from __future__ import annotations

import cProfile
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import datetime
from time import perf_counter
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from bench import ingest_pages as pages
from bench import ingest_pages_xero as xero_pages
from providers.base import AnyRecord
from providers.base import Entity
from providers.base import NoLimiter
from providers.config import ProviderSettings
from providers.quickbooks import QuickBooks
from providers.xero import Xero

QBO_BASE = "https://quickbooks.bench.invalid"
XERO_BASE = "https://api.bench.invalid/api.xro/2.0"
REALM = "9341452808271746"
TENANT = "7a1e6bbc-0d4c-4b5e-8f2c-1f3b5a1e9c01"

Route = Callable[[str, dict[str, list[str]]], tuple[bytes, dict[str, str]]]


class UnexpectedCall(AssertionError):
    """The client asked for something the recorded pages do not cover."""


class FixedToken:
    """Credentials that always have a valid token (no OAuth in a benchmark)."""

    def access_token(self) -> str:
        return "bench-access-token"

    def refreshed(self, rejected: str) -> str:
        raise UnexpectedCall("the benchmark's token was refused")


class RecordedPages(BaseAdapter):
    """Answers every request with `route(path, query)`; counts time spent making bodies.

    With a `rendered` dict, bodies are kept there by URL and served again from it: a run that
    follows one which rendered them spends no time generating (the sync overlaps the client
    with the writes, so time spent generating could not simply be taken out afterwards).
    """

    def __init__(
        self, route: Route, rendered: dict[str, tuple[bytes, dict[str, str]]] | None = None
    ) -> None:
        super().__init__()
        self.route = route
        self.rendered = rendered
        self.generating = 0.0
        self.calls = 0

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        started = perf_counter()
        if self.rendered is not None and url in self.rendered:
            body, headers = self.rendered[url]
        else:
            parts = urlsplit(url)
            body, headers = self.route(parts.path, parse_qs(parts.query))
            if self.rendered is not None:
                self.rendered[url] = (body, headers)
        self.generating += perf_counter() - started
        self.calls += 1
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response._content = body
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json;charset=UTF-8", **headers}
        )
        response.encoding = "utf-8"
        response.url = url
        response.request = request
        return response

    def close(self) -> None:
        return None


def quickbooks_route(total: int) -> Route:
    """A QuickBooks company holding `total` invoices (plus its Terms and Preferences)."""

    def route(path: str, query: dict[str, list[str]]) -> tuple[bytes, dict[str, str]]:
        headers = {"intuit_tid": "1-65c2a1b0-bench"}
        if path.endswith("/preferences"):
            return pages.qbo_preferences(), headers
        statement = (query.get("query") or [""])[0]
        if path.endswith("/query") and " FROM Term " in statement:
            return pages.qbo_terms_page(), headers
        if path.endswith("/query") and " FROM Invoice " in statement:
            start = int(statement.split("STARTPOSITION ")[1].split()[0])
            return pages.qbo_query_page(start, total), headers
        raise UnexpectedCall(f"QuickBooks call not recorded: {path} {query}")

    return route


def xero_route(total: int) -> Route:
    """A Xero organisation holding `total` sales invoices."""

    def route(path: str, query: dict[str, list[str]]) -> tuple[bytes, dict[str, str]]:
        if path.endswith("/Invoices") and query.get("where") == ['Type=="ACCREC"']:
            page = int(query["page"][0])
            headers = {
                "X-MinLimit-Remaining": "59",
                "X-DayLimit-Remaining": "4999",
                "X-AppMinLimit-Remaining": "9999",
            }
            return xero_pages.xero_invoices_page(page, total), headers
        raise UnexpectedCall(f"Xero call not recorded: {path} {query}")

    return route


def build_provider(
    name: str, total: int, rendered: dict[str, tuple[bytes, dict[str, str]]] | None = None
) -> tuple[Any, RecordedPages]:
    """The real client for `name`, with no rate limiter, reading a `total`-invoice company
    (page bodies kept in and served from `rendered` when given, see RecordedPages)."""
    session = requests.Session()
    if name == "quickbooks":
        adapter = RecordedPages(quickbooks_route(total), rendered)
        session.mount("https://", adapter)
        settings = ProviderSettings(api_base=QBO_BASE)
        return QuickBooks(settings, REALM, FixedToken(), NoLimiter(), http=session), adapter
    if name == "xero":
        adapter = RecordedPages(xero_route(total), rendered)
        session.mount("https://", adapter)
        settings = ProviderSettings(api_base=XERO_BASE)
        return Xero(settings, TENANT, FixedToken(), NoLimiter(), http=session), adapter
    raise ValueError(f"unknown provider {name!r}")


class Observed:
    """A provider as the sync engine sees it, timing the client (and profiling it, in the
    thread that runs it) and calling `after` between pages."""

    def __init__(
        self,
        inner: Any,
        after: Callable[[int], None] | None = None,
        profiler: cProfile.Profile | None = None,
    ) -> None:
        self.inner = inner
        self.profiler = profiler
        self.name = inner.name
        self.change_window = inner.change_window
        self.after = after
        self.client_seconds = 0.0
        self.records = 0

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        listing = iter(self.inner.list_changed(entity, since))
        while True:
            started = perf_counter()
            if self.profiler is not None:
                self.profiler.enable()
            page = next(listing, None)
            if self.profiler is not None:
                self.profiler.disable()
            self.client_seconds += perf_counter() - started
            if page is None:
                return
            yield page
            self.records += len(page)
            if self.after is not None:
                self.after(self.records)


class WriterTime:
    """Seconds the sync spent inside its database sessions (open to close: the upserts, the
    cursor moves and the commits), through sessions made by `sessions(engine)`."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def sessions(self, engine: Engine) -> sessionmaker[Session]:
        return sessionmaker(
            bind=engine, expire_on_commit=False, class_=_TimedSession, info={"timer": self}
        )


class _TimedSession(Session):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened = perf_counter()

    def close(self) -> None:
        super().close()
        self.info["timer"].seconds += perf_counter() - self._opened
