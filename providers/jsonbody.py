"""Decoding JSON bodies: provider responses, and untrusted bodies (webhooks, the JSON API).

Provider responses: msgspec decodes a 1,000-invoice page about a third faster than the standard
library, which is the largest single cost of a backfill (see docs/benchmarks.md). Numbers never
pass through float: `float_hook` receives the literal text.

Untrusted bodies: a parser recurses once per level of nesting, so ~1,000 levels raise
RecursionError and lose the whole body. `decode_untrusted` cuts anything nested deeper than a
limit down to an empty list first, which keeps the rest of the body readable, and
`first_problem` then names where a value is nested too deeply or holds text no database can
store (an unpaired UTF-16 surrogate such as "\\ud800", or a NUL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder(float_hook=Decimal)

MAX_DEPTH = 64
# A JSON string (skipped whole, escapes included) or one bracket.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


def decode_json(body: bytes | str) -> Any:
    """Parse `body`; raises ValueError (as `json.loads` does) when it is not JSON."""
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc


def decode_untrusted(
    body: bytes, max_depth: int = MAX_DEPTH, parse_float: Callable[[str], Any] = float
) -> Any:
    """Parse `body`, any part nested deeper than `max_depth` replaced by `[]` at that depth.

    Raises ValueError when it is not JSON. `first_problem` finds the cut parts.
    """
    try:
        return json.loads(body, parse_float=parse_float)
    except RecursionError:
        return json.loads(_cut_deep(body, max_depth), parse_float=parse_float)


def _cut_deep(body: bytes, max_depth: int) -> bytes:
    kept, depth, start, resume = [], 0, None, 0
    for token in _TOKEN.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth == max_depth + 1:
                start = token.start()
        elif bracket in (b"]", b"}"):
            if depth == max_depth + 1 and start is not None:
                kept += [body[resume:start], b"[]"]
                resume, start = token.end(), None
            depth -= 1
    return b"".join(kept) + body[resume:]


def first_problem(value: Any, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """(path, problem) of the first part of `value` that is nested more than `max_depth`
    levels deep or holds unstorable text; None if there is none. Paths read "a.b[0].c"."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth > max_depth:
            return _short(path), f"is nested more than {max_depth} levels deep"
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return _short(path), problem
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key)
                if problem:
                    return _short(_join(path, ascii(key))), f"has a key that {problem}"
                stack.append((child, _join(path, key), depth + 1))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{path}[{i}]", depth + 1) for i, child in reversed(list(enumerate(item)))
            )
    return None


def _short(path: str) -> str:
    return path if len(path) <= 60 else path[:60] + "..."


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as text (an unpaired surrogate, a NUL), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return (
        f"contains an unpaired UTF-16 surrogate ({ascii(found.group())[1:-1]}), which is not text"
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
