"""Two-stage paging: the next pages are fetched, decoded and mapped while this one is written.

A backfill alternates two kinds of work: the client (HTTP, JSON, mapping: pure Python) and the
database (the server's work on PostgreSQL, SQLite's own C code), and either waits for the other.
`prefetched` runs the client in a thread of its own, at most `depth` pages ahead, so the two
overlap where one of them leaves the interpreter free (waiting on a socket, inside SQLite). The
queue is bounded, so memory stays that of a few pages however long the listing is.

Order is kept, and so is where things go wrong: an exception raised while producing page n
comes out of the iterator after page n-1, as it would without the thread. When the consumer
stops early (its own exception, or it stops asking), the producer stops before its next page,
and `prefetched` waits for it: no thread outlives the listing. That wait is at most the page
being fetched (one HTTP call and its retries).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from collections.abc import Iterator
from queue import Empty
from queue import Full
from queue import Queue
from typing import Generic
from typing import TypeVar

T = TypeVar("T")
POLL = 0.1  # seconds between looks at the stop flag while the queue is full


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Done:
    pass


class _Producer(Generic[T]):
    """Puts `items` (then _Done, or _Failed) on `queue` until done or `stop` is set."""

    def __init__(self, items: Iterable[T], depth: int) -> None:
        self.items = items
        self.queue: Queue[T | _Failed | _Done] = Queue(maxsize=depth)
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            for item in self.items:
                if not self._put(item):
                    return
            self._put(_Done())
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(_Failed(error))

    def _put(self, item: T | _Failed | _Done) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=POLL)
                return True
            except Full:
                continue
        return False


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """`items` in order, produced by a thread at most `depth` items ahead of the consumer
    (depth 0: no thread, `items` as they are)."""
    if depth <= 0:
        yield from items
        return
    producer = _Producer(items, depth)
    thread = threading.Thread(target=producer.run, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = producer.queue.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        producer.stop.set()
        _drain(producer.queue)
        thread.join()


def _drain(queue: Queue[T | _Failed | _Done]) -> None:
    while True:
        try:
            queue.get_nowait()
        except Empty:
            return
