"""The dashboard's charts as SVG, drawn on the server by pygal.

Each chart is its own image (`<img src=… alt=…>`) with the same figures in a table beside it,
so it reads without the picture. pygal's SVG styles itself with an inline <style>; as an image
it can run no script and load nothing, and its response carries a policy that allows exactly
that inline style and nothing else (`IMAGE_POLICY`). pygal's scripts are taken out.
"""

from __future__ import annotations

import re
import sys
from decimal import Decimal

import pygal
from pygal.style import Style

from insights.aging import BUCKETS
from insights.aging import LABELS
from insights.aging import Aging
from insights.customers import ReasonTotal
from insights.trend import Point
from policy.trial import LABELS as KIND_LABELS
from policy.trial import WeekTable

# pygal puts a finder for its map plugins on sys.meta_path that has only the import system's old
# find_module API: every import that reaches it then raises ImportWarning (an error where
# warnings are errors, as in the tests) and, from Python 3.12, fails outright. Dunwell draws no
# maps, so it is taken off again.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

_SCRIPT = re.compile(rb"<script\b[^>]*>.*?</script>", re.S)
IMAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1d2630",
    foreground_strong="#1d2630",
    foreground_subtle="#5b6776",
    colors=("#0b6e4f", "#1f5fae", "#a05a00", "#a3242b", "#6b4c9a", "#5b6776"),
    font_family="system-ui, -apple-system, 'Segoe UI', sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=12,
)


SIZES = {"wide": (800, 360), "narrow": (420, 340)}  # narrow: a phone, or half a page


def _chart(kind: type, size: str, **options: object) -> pygal.graph.graph.Graph:
    width, height = SIZES.get(size, SIZES["wide"])
    return kind(
        style=STYLE,
        js=[],
        width=width,
        height=height,
        explicit_size=False,
        legend_at_bottom=True,
        show_y_guides=True,
        include_x_axis=True,  # amounts start at zero, so bars and lines compare honestly
        value_formatter=lambda v: f"{v:,.0f}",
        truncate_label=-1,
        **options,
    )


def _render(chart: pygal.graph.graph.Graph) -> bytes:
    """The SVG without pygal's configuration script (an image never runs it anyway)."""
    return _SCRIPT.sub(b"", chart.render())


def _float(value: Decimal) -> float:
    return float(value)


def aging_chart(aging: Aging, size: str = "wide") -> bytes:
    """Open balances per bucket: the home currency when there is one, else each currency."""
    chart = _chart(pygal.Bar, size, show_legend=aging.home is None)
    chart.x_labels = [LABELS[b] for b in BUCKETS]
    rows = [aging.home] if aging.home is not None else aging.rows
    for row in rows:
        if row is not None:
            chart.add(row.currency or "?", [_float(row.buckets[b]) for b in BUCKETS])
    return _render(chart)


def trend_chart(points: list[Point], currency: str, size: str = "wide") -> bytes:
    chart = _chart(pygal.Line, size, fill=False)
    chart.x_labels = [p.day.strftime("%b") for p in points]
    chart.add(f"Overdue ({currency})", [_float(p.overdue) for p in points])
    chart.add(f"All owed ({currency})", [_float(p.total) for p in points])
    return _render(chart)


def reasons_chart(reasons: list[ReasonTotal], currency: str, size: str = "wide") -> bytes:
    chart = _chart(pygal.HorizontalBar, size, show_legend=False, x_label_rotation=35)
    chart.x_labels = [r.label for r in reasons]
    chart.add(currency, [_float(r.home) for r in reasons])
    return _render(chart)


def backtest_chart(table: WeekTable, version: int, size: str = "wide") -> bytes:
    """Reminders, holds and discounts per week: the version tried against the active one."""
    chart = _chart(pygal.Line, size, fill=False, x_label_rotation=35)
    chart.x_labels = [w[5:] for w in table.weeks]
    for label, counts in ((f"v{version}", table.mine), ("active", table.theirs)):
        if counts is None:
            continue
        for kind in ("reminder", "credit_hold", "settle_discount"):
            chart.add(f"{KIND_LABELS[kind]} ({label})", counts[kind])
    return _render(chart)
