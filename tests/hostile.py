"""Hostile JSON parts shared by the fuzz strategies: wrong types, unstorable text, numbers and
dates past what a column or a calendar holds, nesting a thousand levels deep.

`Deep` stands for such nesting; `dumps` writes JSON text with it, without recursing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st


@dataclass(frozen=True)
class Deep:
    """`levels` nested JSON arrays."""

    levels: int


def dumps(value: Any) -> str:
    """JSON text of `value`, Deep included (json.dumps would recurse too deeply for it)."""
    if isinstance(value, Deep):
        return "[" * value.levels + "]" * value.levels
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


HOSTILE_TEXT = st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "x" * 70, "y" * 3000, "", " ", "💸", "null", "\u202e1"]
)
HOSTILE_NUMBERS = st.sampled_from(
    ["1e999999", "12345678901234567890123456789", "-1", "0.00001", "NaN", "1e2", 10**30, 1e308]
)
HOSTILE_DATES = st.sampled_from(
    ["0001-01-01", "0001-01-03", "9999-12-31", "2026-02-30", "1899-12-31", "2200-01-01", "today"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    HOSTILE_TEXT,
    HOSTILE_NUMBERS,
    HOSTILE_DATES,
)
JUNK = st.one_of(
    SCALARS,
    st.builds(Deep, st.sampled_from([40, 1000, 3000])),
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3),
)


def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `good`, sometimes anything at all."""
    return st.one_of(good, good, good, JUNK)


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[Any]) -> Any:
    """A body from `bodies` with one part (or a new key, or the whole) replaced by junk."""
    body = draw(bodies)
    slots = [(None, None), *_slots(body)]
    parent, key = draw(st.sampled_from(slots))
    junk = draw(JUNK)
    if parent is None:
        return junk
    if isinstance(parent, dict) and draw(st.booleans()):
        key = draw(st.text(max_size=8))
    parent[key] = junk
    return body


def _slots(value: Any) -> list[tuple[Any, Any]]:
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            for key, child in item.items() if isinstance(item, dict) else enumerate(item):
                found.append((item, key))
                stack.append(child)
    return found
