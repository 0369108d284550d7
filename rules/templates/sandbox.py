"""The Jinja environment user templates run in: the immutable sandbox, with bounded values.

Jinja's sandbox keeps a template away from Python's internals; it does not stop a template from
asking for an enormous amount of work in one step, which no time check can interrupt once it
runs inside C code: `9**(9**8)`, `'x' * 10**10`, `s|replace('a', s)`, `'%0999999999d'|format(1)`.
So every operation that can multiply the size of its input is checked here *before* it runs:
the power operator (intercepted as Jinja's documentation shows, `intercepted_binops` and
`call_binop`), `*`, `+`, `%`, the `~` join, `range()`, width arguments, replace and join. Text
or lists a step produces are refused past MAX_VALUE_CHARS. Loops that are each cheap but many
are the time budget's job: every loop iterates through rules.templates.budget.Budgeted, and every
call and intercepted operator checks the same deadline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator
from jinja2.compiler import Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from rules.templates import budget
from rules.templates.budget import Budgeted

MAX_VALUE_CHARS = 200_000
MAX_RANGE = 10_000
MAX_NUMBER_BITS = 4_096
# Filters and str methods whose whole-number arguments are widths or counts of output.
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# printf widths or precisions given as `*` or with 7+ digits; str.format specs likewise or nested.
_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\*|\d{7,})|%[-#0 +]*\d*\.(\*|\d{7,})")
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*(\d{7,}|\{)")


class TemplateLimitError(SecurityError):
    """A template asked for more work or output than a message may take."""


def check_size(value: Any, what: str = "a value") -> Any:
    """`value`, unless it is text or a list longer than MAX_VALUE_CHARS."""
    if isinstance(value, (str, list, tuple)) and len(value) > MAX_VALUE_CHARS:
        _too_long(what)
    return value


def _too_long(what: str) -> None:
    raise TemplateLimitError(f"{what} would be longer than {MAX_VALUE_CHARS:,} characters")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_widths(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for arg in (*args, *kwargs.values()):
        if _is_int(arg) and abs(arg) > MAX_VALUE_CHARS:
            raise TemplateLimitError(f"{name}() was given a width of {arg:,}")


def _check_format_string(text: Any) -> None:
    if isinstance(text, str) and (_PRINTF_WIDTH.search(text) or _FORMAT_WIDTH.search(text)):
        raise TemplateLimitError("a format string asks for a width of a million or more")


def _check_replace(text: Any, old: Any, new: Any) -> None:
    text, old, new = str(text), str(old), str(new)
    count = text.count(old) if old else len(text) + 1
    if len(text) + count * len(new) > MAX_VALUE_CHARS:
        _too_long("the result of replace()")


def _check_join(items: Any) -> None:
    if isinstance(items, (list, tuple)) and sum(len(str(i)) for i in items) > MAX_VALUE_CHARS:
        _too_long("the result of join()")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**" and _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
        if abs(left).bit_length() * right > MAX_NUMBER_BITS:
            raise TemplateLimitError(f"{left} ** {right} is too large a number")
    elif operator == "*":
        _check_product(left, right)
    elif operator == "+" and isinstance(left, (str, list, tuple)) and hasattr(right, "__len__"):
        if len(left) + len(right) > MAX_VALUE_CHARS:
            _too_long("a sum")
    elif operator == "%" and isinstance(left, str):
        _check_format_string(left)


def _check_product(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_NUMBER_BITS:
            raise TemplateLimitError("a product is too large a number")
        return
    sequence, times = (left, right) if _is_int(right) else (right, left)
    if isinstance(sequence, (str, list, tuple)) and _is_int(times):
        if len(sequence) * times > MAX_VALUE_CHARS:
            _too_long(f"repeating {len(sequence):,} items {times:,} times")


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if name in _WIDTH_METHODS:
        _check_widths(name, args, kwargs)
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, args[0], args[1])
    elif name == "join" and args:
        _check_join(args[0])
    elif name in ("format", "format_map"):
        _check_format_string(text)


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitError(f"range() of {len(numbers):,} numbers (at most {MAX_RANGE:,})")
    return numbers


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` with its arguments checked before and its result's size after."""

    @wraps(func)  # keeps Jinja's pass_context/pass_environment marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = args[1:] if hasattr(func, "jinja_pass_arg") else args
        if name in _WIDTH_FILTERS:
            _check_widths(name, values[1:], kwargs)
        elif name == "replace" and len(values) >= 3:
            _check_replace(*values[:3])
        elif name == "join" and values:
            _check_join(values[0])
        elif name == "format" and values:
            _check_format_string(values[0])
        return check_size(func(*args, **kwargs), f"the result of {name}")

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles every `{% for %}` to iterate through rules.templates.budget.Budgeted, and
    `a ~ b ~ c` to a join that checks the total length before building it."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 - Jinja's name
        budgeted = nodes.EnvironmentAttribute("budgeted", lineno=node.lineno)
        node.iter = nodes.Call(budgeted, [node.iter], [], None, None, lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            super().visit_Concat(node, frame)  # not reached: user templates are plain text
            return
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment whose operators, filters and calls cannot explode."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"**", "*", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.globals.pop("lipsum", None)  # lipsum(n) loops in Python n times
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def add_filter(self, name: str, func: Callable[..., Any]) -> None:
        self.filters[name] = _bounded_filter(name, func)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget.check()
        _check_binop(operator, left, right)
        return check_size(self.binop_table[operator](left, right), f"the result of {operator}")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget.check()
        name = getattr(__obj, "__name__", "")
        # str.format arrives wrapped by the sandbox; the method itself is __wrapped__.
        text = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(text, str):
            _check_str_method(text, name, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return check_size(result, f"the result of {name or 'a call'}()")

    def budgeted(self, items: Any) -> Budgeted:
        return Budgeted(items)

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        texts = [str(part) for part in parts]
        if sum(len(text) for text in texts) > MAX_VALUE_CHARS:
            _too_long("joining with ~")
        return "".join(texts)
