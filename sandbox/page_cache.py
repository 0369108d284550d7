"""Rendered list pages kept for the next identical read, so a listing is rendered once.

The providers' servers run elsewhere and cost a client nothing; the sandbox runs on the client's
machine, and rendering a 1,000-record page costs it 50-180 µs a record (docs/benchmarks.md,
"Side by side with the Singer taps"). A page read again with nothing changed in between (a
benchmark reading one company several times, a tap and our sync reading the same pages) is
served from here instead, byte for byte as it was rendered: only what changes per answer (the
envelope's time and id) is written afresh around it (`spliced`).

A cached page is keyed by what the request asked (the API and its caller pass that) and by the
data's version, made of:

- `epoch`, moved by every request that may change data: any method but GET, HEAD and OPTIONS,
  except the reads and the bookkeeping listed in `UNCHANGING` (QuickBooks' POST /query and
  /batch, consent and token grants, the request logs and the rate-limit knobs). Fault switches
  and every write move it, before the request and again after it, so no read that starts
  after a write has ended gets a page rendered before it;
- the store's own counter, moved by every change made in-process (tests change the stores
  without HTTP), which the APIs pass along in the key.

What the page holds may depend on more than the store (the Xero calendar day, the host name in
QuickBooks' payment links): the APIs put that in the key too.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Hashable
from typing import Any

from flask import Flask
from flask import request

EXTENSION = "sandbox_page_cache"
MAX_BYTES = 512 * 1024 * 1024
MARKER = "\x00sandbox-page-cache-part-{}\x00"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Requests that are not GET yet change no page: reads by POST, consent and token grants (the
# gate answers for access before any page), the request logs and the rate-limit knobs.
UNCHANGING = re.compile(
    r"^/qbo/v3/company/[^/]+/(query|batch)$"
    r"|^/qbo/connect/oauth2/approve$"
    r"|^/qbo/oauth2/v1/tokens/bearer$"
    r"|^/xero/identity/connect/(authorize/approve|token)$"
    r"|^/_sandbox/quickbooks/(requests|limits)$"
    r"|^/_sandbox/xero/(requests|limits|limits/usage)$"
)


Parts = tuple[str, ...]  # the JSON texts of a page's rendered values


class PageCache:
    """Rendered pages by key and data version, least recently used dropped past `max_bytes`."""

    def __init__(self, enabled: bool = True, max_bytes: int = MAX_BYTES) -> None:
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.epoch = 0
        self.hits = 0
        self.misses = 0
        self._size = 0
        self._pages: OrderedDict[Hashable, Parts] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, key: Hashable, render: Callable[[], Parts]) -> Parts:
        """The parts of the page of `key` (which must name the data's version), rendered at
        most once while `epoch` stays where it is."""
        if not self.enabled:
            return render()
        full = (self.epoch, key)
        with self._lock:
            found = self._pages.get(full)
            if found is not None:
                self._pages.move_to_end(full)
                self.hits += 1
                return found
        parts = render()
        size = sum(map(len, parts))
        with self._lock:
            self.misses += 1
            if full[0] == self.epoch and full not in self._pages and size <= self.max_bytes:
                self._pages[full] = parts
                self._size += size
                while self._size > self.max_bytes:
                    _, dropped = self._pages.popitem(last=False)
                    self._size -= sum(map(len, dropped))
        return parts

    def invalidate(self) -> None:
        with self._lock:
            self.epoch += 1
            self._pages.clear()
            self._size = 0

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "hits": self.hits,
                "misses": self.misses,
                "pages": len(self._pages),
                "bytes": self._size,
                "epoch": self.epoch,
            }


def spliced(dumps: Callable[[Any], str], payload: Any, parts: Parts | list[str]) -> str:
    """`dumps(payload)` where `payload` holds `marker(i)` in place of each value already
    rendered as `parts[i]`. JSON without indentation renders a value the same wherever it sits,
    so the result is what `dumps` of the whole payload would give."""
    text = dumps(payload)
    for index, part in enumerate(parts):
        text = text.replace(dumps(marker(index)), part, 1)
    return text


def marker(index: int) -> str:
    return MARKER.format(index)


_NO_CACHE = PageCache(enabled=False)


def current(app: Flask) -> PageCache:
    """The app's cache; an app made of one provider's part alone (tests) renders every time."""
    cache: PageCache = app.extensions.get(EXTENSION, _NO_CACHE)
    return cache


def init_app(app: Flask, enabled: bool) -> PageCache:
    """The app's cache, and the hooks that move its epoch around requests that change data."""
    cache = app.extensions[EXTENSION] = PageCache(enabled)

    def may_change_data() -> bool:
        return request.method not in READ_METHODS and not UNCHANGING.match(request.path)

    @app.before_request
    def before_change() -> None:
        if may_change_data():
            cache.invalidate()

    @app.teardown_request
    def after_change(_: BaseException | None) -> None:
        if may_change_data():
            cache.invalidate()

    @app.get("/_sandbox/page-cache")
    def page_cache_stats() -> Any:
        """Hits, misses and size of the page cache (benchmarks report them per run)."""
        return cache.describe()

    return cache
