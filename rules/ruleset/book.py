"""A validated rule-set document compiled into frozen values the evaluator reads quickly.

`compile_book(document, version_id, number)` runs the document through rules.ruleset.schema
first, so a RuleBook always describes a valid rule set.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import time
from decimal import Decimal
from typing import Any

from rules.engine.conditions import Condition
from rules.engine.decisions import ActionKind
from rules.ruleset.schema import WEEKDAYS
from rules.ruleset.schema import load_document


@dataclass(frozen=True, slots=True)
class StepAction:
    type: ActionKind
    template: str | None = None
    text: str | None = None
    on: str = "invoice"
    assignee: str | None = None
    channel: str = "email"


@dataclass(frozen=True, slots=True)
class Step:
    key: str
    name: str
    offset: int
    conditions: tuple[Condition, ...]
    actions: tuple[StepAction, ...]
    repeat_every: int | None = None
    repeat_limit: int = 0

    def action(self, kind: str) -> StepAction | None:
        return next((a for a in self.actions if a.type == kind), None)


@dataclass(frozen=True, slots=True)
class ScheduleItem:
    """One occurrence of a step: the step itself (period 0) or its n-th repeat."""

    position: int
    step_index: int
    period: int
    offset: int


@dataclass(frozen=True, slots=True)
class Policy:
    key: str
    name: str
    catch_up: str
    steps: tuple[Step, ...]
    schedule: tuple[ScheduleItem, ...]
    offsets: tuple[int, ...]  # schedule offsets, for bisect
    positions: dict[tuple[str, str], int] = field(hash=False, compare=False)
    rule: str = ""  # the outbox rule name: "policy:<key>"
    places_holds: bool = False  # some step places a credit hold


@dataclass(frozen=True, slots=True)
class Segment:
    key: str
    name: str
    policy: str | None
    tags_any: frozenset[str]
    currencies: frozenset[str]
    billed_min: Decimal | None
    billed_max: Decimal | None
    late_min: int | None
    late_max: int | None

    @property
    def uses_billed(self) -> bool:
        return self.billed_min is not None or self.billed_max is not None

    @property
    def uses_lateness(self) -> bool:
        return self.late_min is not None or self.late_max is not None


@dataclass(frozen=True, slots=True)
class EarlyPayment:
    percent: Decimal | None
    days: int | None
    use_invoice_terms: bool
    offer_in_reminders: bool
    settle_short_payments: bool


@dataclass(frozen=True, slots=True)
class Offer:
    key: str
    min_days_overdue: int
    percent: Decimal
    valid_days: int
    min_balance: Decimal
    template: str


@dataclass(frozen=True, slots=True)
class Limits:
    caps: tuple[tuple[int, int], ...]  # (messages, days)
    quiet_start: time | None
    quiet_end: time | None
    business_days: frozenset[int]  # date.weekday() numbers
    use_customer_timezone: bool
    approve_runs_over: int | None = None  # a run sending more messages waits for approval

    @property
    def longest_cap_days(self) -> int:
        """How far back the message history must reach for the caps to be checked."""
        return max((days for _, days in self.caps), default=0)


@dataclass(frozen=True, slots=True)
class PlanReminders:
    remind_days_before: tuple[int, ...]
    template: str | None
    grace_days: int


@dataclass(frozen=True, slots=True)
class RuleBook:
    name: str
    version_id: int | None
    version: int | None
    default_policy: str | None
    segments: tuple[Segment, ...]
    policies: dict[str, Policy] = field(hash=False)
    templates: dict[str, tuple[str, str]] = field(hash=False)
    early: EarlyPayment | None = None
    offers: tuple[Offer, ...] = ()
    hold_conditions: tuple[Condition, ...] = ()
    hold_reason: str = ""
    plans: PlanReminders = PlanReminders((3, 0), None, 0)
    limits: Limits = Limits((), None, None, frozenset(range(5)), True)
    pause_when_credit_covers: bool = True
    delivery_after: int | None = None  # days after issue to send an unsent invoice; None: off
    document: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def needs_billed(self) -> bool:
        return any(s.uses_billed for s in self.segments)

    @property
    def needs_lateness(self) -> bool:
        return any(s.uses_lateness for s in self.segments)


def compile_book(
    document: dict[str, Any], version_id: int | None = None, number: int | None = None
) -> RuleBook:
    """A validated rule-set document compiled into what the evaluator reads: steps expanded
    into a schedule of repeats, conditions parsed, money as Decimal."""
    doc = load_document(document)
    discounts = doc["discounts"]
    hold = doc["credit_hold"]
    return RuleBook(
        name=doc["name"],
        version_id=version_id,
        version=number,
        default_policy=doc["default_policy"],
        segments=tuple(_segment(s) for s in doc["segments"]),
        policies={p["key"]: _policy(p) for p in doc["policies"]},
        templates={k: (t["subject"], t["body"]) for k, t in doc["templates"].items()},
        early=_early(discounts["early_payment"]),
        offers=tuple(Offer(**o) for o in discounts["settlement_offers"]),
        hold_conditions=tuple(_condition(c) for c in hold["place_when_any"]) if hold else (),
        hold_reason=hold["reason"] if hold else "",
        plans=PlanReminders(
            tuple(sorted(set(doc["payment_plans"]["remind_days_before"]), reverse=True)),
            doc["payment_plans"]["template"],
            doc["payment_plans"]["grace_days"],
        ),
        limits=_limits(doc["limits"]),
        pause_when_credit_covers=doc["unapplied_credit"]["pause_when_covered"],
        delivery_after=_delivery(doc["invoice_delivery"]),
        document=document,
    )


def _condition(c: dict[str, Any]) -> Condition:
    value = c["value"]
    if isinstance(value, list):
        value = tuple(value)
    elif c["fact"] in ("invoice_amount", "invoice_balance", "customer_total_overdue"):
        value = Decimal(str(value))
    return Condition(c["fact"], c["op"], value, c.get("currency"))


def _step(s: dict[str, Any]) -> Step:
    repeat = s["repeat"]
    return Step(
        key=s["key"],
        name=s["name"],
        offset=s["offset_days"],
        conditions=tuple(_condition(c) for c in s["conditions"]),
        actions=tuple(StepAction(**{**a, "type": ActionKind(a["type"])}) for a in s["actions"]),
        repeat_every=repeat["every_days"] if repeat else None,
        repeat_limit=repeat["limit"] if repeat else 0,
    )


def _policy(p: dict[str, Any]) -> Policy:
    steps = tuple(_step(s) for s in p["steps"])
    items: list[ScheduleItem] = []
    for index, step in enumerate(steps):
        items.append(ScheduleItem(len(items), index, 0, step.offset))
        every = step.repeat_every or 0  # None exactly when repeat_limit is 0
        for n in range(1, step.repeat_limit + 1):
            items.append(ScheduleItem(len(items), index, n, step.offset + n * every))
    positions = {(steps[i.step_index].key, str(i.period)): i.position for i in items}
    return Policy(
        key=p["key"],
        name=p["name"],
        catch_up=p["catch_up"],
        steps=steps,
        schedule=tuple(items),
        offsets=tuple(i.offset for i in items),
        positions=positions,
        rule=f"policy:{p['key']}",
        places_holds=any(s.action("credit_hold") for s in steps),
    )


def _segment(s: dict[str, Any]) -> Segment:
    m = s["match"]
    return Segment(
        key=s["key"],
        name=s["name"],
        policy=s["policy"],
        tags_any=frozenset(m["tags_any"]),
        currencies=frozenset(m["currencies"]),
        billed_min=m["billed_12m_min"],
        billed_max=m["billed_12m_max"],
        late_min=m["avg_days_late_min"],
        late_max=m["avg_days_late_max"],
    )


def _delivery(d: dict[str, Any]) -> int | None:
    return d["after_days"] if d["enabled"] else None


def _early(e: dict[str, Any] | None) -> EarlyPayment | None:
    return EarlyPayment(**e) if e else None


def _limits(lim: dict[str, Any]) -> Limits:
    quiet = lim["quiet_hours"]
    return Limits(
        caps=tuple((c["messages"], c["days"]) for c in lim["caps"]),
        quiet_start=time.fromisoformat(quiet["start"]) if quiet else None,
        quiet_end=time.fromisoformat(quiet["end"]) if quiet else None,
        business_days=frozenset(WEEKDAYS.index(d) for d in lim["business_days"]),
        use_customer_timezone=lim["timezone_from"] == "customer",
        approve_runs_over=lim.get("approve_runs_over", 25),
    )
