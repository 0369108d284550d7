"""Which policy a customer follows and which step an invoice is due for, pure.

Steps are anchored on the data (the due date), never on when the last run happened: an invoice
has reached every schedule item whose offset is at most its days past due. The next item is
the first reached one after the last item already fired (or, with catch_up "latest_step", the
last reached one). At most one item fires per invoice per local day, so a late or missed run
catches up one step at a time and never sends two steps at once.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from rules.engine.conditions import Aggregate
from rules.engine.conditions import check_all
from rules.engine.conditions import invoice_value
from rules.engine.decisions import ActionKind
from rules.engine.facts import CustomerFact
from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.ruleset.book import Policy
from rules.ruleset.book import RuleBook
from rules.ruleset.book import ScheduleItem
from rules.ruleset.book import Segment
from rules.ruleset.book import Step

# Markers beside a step's firing (step keys never contain ':'): its reminder was held back for
# do-not-contact, and was later sent once contact was allowed again.
HELD = ":held"
RESUMED = ":resumed"


@dataclass(frozen=True, slots=True)
class Candidate:
    item: ScheduleItem
    step: Step
    conditions: list[dict[str, Any]]
    passed_over: tuple[str, ...]  # reached items not fired (catch_up, or conditions not met)


def policy_rule(policy: Policy) -> str:
    return policy.rule


def choose_policy(book: RuleBook, customer: CustomerFact) -> tuple[Policy | None, Segment | None]:
    """The first segment the customer matches and its policy, else the default policy (and no
    segment); a segment without a policy means: not chased."""
    for segment in book.segments:
        if segment_matches(segment, customer):
            return (book.policies.get(segment.policy) if segment.policy else None), segment
    if book.default_policy is None:
        return None, None
    return book.policies.get(book.default_policy), None


def segment_matches(segment: Segment, c: CustomerFact) -> bool:
    if segment.tags_any and not segment.tags_any & c.tags:
        return False
    if segment.currencies and (c.currency or "") not in segment.currencies:
        return False
    if segment.uses_billed:
        billed = c.billed_12m or Decimal(0)
        if segment.billed_min is not None and billed < segment.billed_min:
            return False
        if segment.billed_max is not None and billed > segment.billed_max:
            return False
    if segment.uses_lateness:
        if c.avg_days_late is None:
            return False
        if segment.late_min is not None and c.avg_days_late < segment.late_min:
            return False
        if segment.late_max is not None and c.avg_days_late > segment.late_max:
            return False
    return True


def aggregates(
    invoices: list[InvoiceFact], days: dict[str, int], disputed: set[str]
) -> dict[str, Aggregate]:
    """Overdue position per currency, disputed invoices left out."""
    totals: dict[str, list[Any]] = {}
    for inv in invoices:
        entry = totals.setdefault(inv.currency, [Decimal(0), 0, 0])
        d = days[inv.external_id]
        if d > 0 and inv.external_id not in disputed:
            entry[0] += inv.balance
            entry[1] += 1
            entry[2] = max(entry[2], d)
    return {cur: Aggregate(cur, t, n, o) for cur, (t, n, o) in totals.items()}


def last_fired(policy: Policy, fired: list[Firing]) -> tuple[int, date | None]:
    """The highest schedule position already fired for this policy, and the latest day."""
    rule = policy.rule
    position, latest = -1, None
    for f in fired:
        if f.rule != rule:
            continue
        pos = policy.positions.get((f.step, f.period))
        if pos is not None and pos > position:
            position = pos
        if latest is None or f.fired_on > latest:
            latest = f.fired_on
    return position, latest


def next_candidate(
    policy: Policy,
    inv: InvoiceFact,
    days_past_due: int,
    fired: list[Firing],
    agg: Aggregate,
    as_of: date,
    since: date | None = None,
    done_at: tuple[int, date | None] | None = None,
    segment: str | None = None,
) -> Candidate | None:
    """The schedule item this invoice should fire today, if any.

    Items that came due before `since` (the day the rules started running) were never missed,
    only never applicable: of those only the latest is considered, so activating a rule set
    does not walk an old invoice through every early step. A before-due item ("due soon") is
    only ever sent before the due date: once the invoice is due it is passed over.
    """
    reached = bisect_right(policy.offsets, days_past_due)
    done, latest = done_at or ((last_fired(policy, fired)) if fired else (-1, None))
    if reached <= done + 1 or latest == as_of:
        return None
    pending = policy.schedule[done + 1 : reached]
    skipped: list[str] = []
    if days_past_due >= 0:
        early = tuple(i for i in pending if i.offset < 0)
        skipped = _labels(policy, early)
        pending = pending[len(early) :]
    if since is not None:
        lag = (as_of - since).days
        fresh = tuple(i for i in pending if days_past_due - i.offset <= lag)
        if len(fresh) < len(pending):
            old = pending[: len(pending) - len(fresh)]
            skipped += _labels(policy, old[:-1]) if not fresh else _labels(policy, old)
            pending = fresh or old[-1:]
    order = pending[::-1] if policy.catch_up == "latest_step" else pending
    passed: list[str] = list(skipped)
    for item in order:
        step = policy.steps[item.step_index]
        values = [
            invoice_value(c.fact, inv.total, inv.balance, days_past_due, agg, segment)
            for c in step.conditions
        ]
        ok, trace = check_all(step.conditions, values)
        if ok:
            if policy.catch_up == "latest_step":
                passed = skipped + [
                    p for p in _labels(policy, pending) if p != _label(policy, item)
                ]
            return Candidate(item, step, trace, tuple(passed))
        passed.append(_label(policy, item))
    return None


def before_due_passed(line: dict[str, Any], as_of: date) -> bool:
    """Whether a reminder line decided before its invoice's due date (a "due soon" step) is
    out of date on `as_of`: the invoice is due now (for a re-check at send time)."""
    due = line.get("due_date")
    return line.get("days_overdue", 0) < 0 and due is not None and as_of.isoformat() >= due


def held_reminder(policy: Policy, fired: list[Firing]) -> ScheduleItem | None:
    """The latest step fired whose reminder do-not-contact held back, unless a later step's
    reminder went (or it was sent already): the one reminder owed once contact is allowed."""
    if not any(f.step.endswith(HELD) for f in fired):  # nearly always: nothing held back
        return None
    marks = {(f.step, f.period) for f in fired if f.rule == policy.rule}
    if not any(step.endswith(HELD) for step, _ in marks):
        return None
    for item in reversed(policy.schedule):
        step, period = policy.steps[item.step_index], str(item.period)
        if (step.key, period) not in marks or step.action(ActionKind.REMINDER) is None:
            continue
        owed = (step.key + HELD, period) in marks and (step.key + RESUMED, period) not in marks
        return item if owed else None
    return None


def current_step(policy: Policy, position: int) -> Step | None:
    """The step at schedule `position` (-1: none fired yet)."""
    if position < 0:
        return None
    return policy.steps[policy.schedule[position].step_index]


def _label(policy: Policy, item: ScheduleItem) -> str:
    key = policy.steps[item.step_index].key
    return key if item.period == 0 else f"{key} (repeat {item.period})"


def _labels(policy: Policy, items: tuple[ScheduleItem, ...]) -> list[str]:
    return [_label(policy, i) for i in items]
