"""The preview and the backtest arranged for reading: decisions grouped by customer, and two
backtests side by side, week by week."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from rules.engine.decisions import ActionKind

KINDS = tuple(kind for kind in ActionKind if kind != ActionKind.SEND_INVOICE)
LABELS = {
    "reminder": "reminders",
    "note": "notes",
    "task": "tasks",
    "credit_hold": "holds",
    "release_hold": "releases",
    "settle_discount": "discounts",
}


@dataclass
class CustomerGroup:
    customer: str
    name: str
    decisions: list[dict[str, Any]] = field(default_factory=list)


def by_customer(result: dict[str, Any], names: dict[str, str]) -> list[CustomerGroup]:
    groups: dict[str, CustomerGroup] = {}
    for decision in result["decisions"]:
        cid = decision["customer"]
        group = groups.setdefault(cid, CustomerGroup(cid, names.get(cid, cid)))
        group.decisions.append(decision)
    return sorted(groups.values(), key=lambda g: (g.name.lower(), g.customer))


@dataclass
class WeekTable:
    weeks: list[str]
    mine: dict[str, list[int]]  # kind -> count per week
    theirs: dict[str, list[int]] | None


def week_table(mine: dict[str, Any], theirs: dict[str, Any] | None) -> WeekTable:
    weeks = sorted(set(mine["by_week"]) | set((theirs or {}).get("by_week", {})))
    if not weeks:
        weeks = [mine["from"]]

    def counts(report: dict[str, Any]) -> dict[str, list[int]]:
        return {k: [report["by_week"].get(w, {}).get(k, 0) for w in weeks] for k in KINDS}

    return WeekTable(weeks, counts(mine), counts(theirs) if theirs is not None else None)
