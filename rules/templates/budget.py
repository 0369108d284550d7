"""A time budget for one template render, checked inside every loop.

Why a check inside loops: a Jinja loop compiles to a Python `for` loop in the template's
generated code, and nested loops that output nothing never hand back a chunk, so a check
between output chunks would never run (`{% for i in range(9999) %}{% for j in range(9999) %}
{% endfor %}{% endfor %}` runs for tens of seconds and yields nothing).

Why not `sys.settrace`: on Python 3.11 any trace function, even one that does nothing, turns off
the interpreter's specialised fast paths for everything that runs, which made ordinary
reminders render three times slower.

So rules.templates.sandbox compiles every `{% for %}` to iterate through `Budgeted`, which
checks the clock before each pass, and its sandbox checks the clock on every call and operator
(macros that recurse, filters called in a loop). Work that happens inside one C call is bounded
by size, not time, in rules.templates.sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sized
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_DEADLINE: ContextVar[float] = ContextVar("template_deadline", default=float("inf"))


class Overtime(BaseException):
    """The deadline passed during a render.

    A BaseException, so that no `except Exception` in a filter or in Jinja's runtime can swallow
    it and let the template carry on.
    """


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Make `check()` raise Overtime once `seconds` have passed, for the code run inside."""
    token = _DEADLINE.set(time.perf_counter() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check() -> None:
    """Raise Overtime if the current render's deadline has passed."""
    if time.perf_counter() > _DEADLINE.get():
        raise Overtime


class Budgeted:
    """An iterable that checks the deadline before each item; keeps `len()` when it has one."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            check()
            yield item

    def __len__(self) -> int:
        if not isinstance(self._items, Sized):
            raise TypeError("no length")  # which tells Jinja the sequence has none
        return len(self._items)
