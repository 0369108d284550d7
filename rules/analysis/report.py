"""The backtest's tally: what would have been produced, for whom, and what pauses held back."""

from __future__ import annotations

from collections import Counter
from collections import defaultdict
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rules.engine.decisions import ActionKind
from rules.engine.decisions import Evaluation
from rules.engine.facts import CustomerFact
from rules.ruleset.book import RuleBook

NOTES = (
    "Balances on past days are rebuilt from payments and credit notes in the mirror.",
    "Voided or deleted invoices count as gone from the day of their last change.",
    "Do-not-contact, tags and segments use today's values; credit holds start released.",
    "Every decision is assumed performed at its scheduled time.",
    "Unapplied credit is not replayed: no invoice is held back by a customer's credit.",
    "Invoice delivery is not replayed: whether an invoice had been sent is not known for "
    "past days.",
)


class Report:
    def __init__(self, org_id: int, book: RuleBook, start: date, end: date):
        self.org_id, self.book, self.start, self.end = org_id, book, start, end
        self.totals: Counter[str] = Counter()
        self.by_customer: dict[str, Counter[str]] = {}
        self.names: dict[str, str] = {}
        self.by_month: dict[str, Counter[str]] = {}
        self.by_week: dict[str, Counter[str]] = {}  # keyed by the week's Monday
        self.reminder_lines = 0
        self.delayed = 0
        self.discounts: defaultdict[str, Decimal] = defaultdict(Decimal)
        self.suppressed: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(self, result: Evaluation, now: datetime, customers: dict[str, CustomerFact]) -> None:
        month = result.as_of.strftime("%Y-%m")
        week = (result.as_of - timedelta(days=result.as_of.weekday())).isoformat()
        for d in result.decisions:
            if d.kind == ActionKind.REMINDER and d.merge_into is not None:
                continue  # joined a reminder counted already
            self.totals[d.kind] += 1
            self.by_month.setdefault(month, Counter())[d.kind] += 1
            self.by_week.setdefault(week, Counter())[d.kind] += 1
            self.by_customer.setdefault(d.customer_id, Counter())[d.kind] += 1
            self.names.setdefault(d.customer_id, getattr(customers.get(d.customer_id), "name", ""))
            if d.kind == ActionKind.REMINDER:
                p = d.payload
                self.reminder_lines += len(p["invoices"]) + len(p["offers"]) + len(p["instalments"])
                self.totals["offer"] += len(p["offers"])
                if d.scheduled_for > now:
                    self.delayed += 1
            if d.kind == ActionKind.SETTLE_DISCOUNT:
                self.discounts[d.payload["currency"]] += Decimal(d.payload["amount"])
        for s in result.suppressed:
            key = (s.customer_id, s.target, s.rule, s.step, s.period, s.pause)
            if key not in self.suppressed:
                self.suppressed[key] = dict(s.as_dict(), first_day=result.as_of.isoformat(), days=0)
            self.suppressed[key]["days"] += 1

    def as_dict(self) -> dict[str, Any]:
        pauses = Counter(entry["pause"] for entry in self.suppressed.values())
        customers = [
            {
                "customer": cid,
                "name": self.names.get(cid, ""),
                **{k: counts.get(k, 0) for k in tuple(ActionKind)},
            }
            for cid, counts in self.by_customer.items()
        ]
        customers.sort(key=lambda c: (-sum(c[k] for k in tuple(ActionKind)), c["customer"]))
        return {
            "organization": self.org_id,
            "rule_set": self.book.name,
            "version": self.book.version,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "totals": {
                **{k: self.totals.get(k, 0) for k in tuple(ActionKind)},
                "offers": self.totals.get("offer", 0),
                "reminder_lines": self.reminder_lines,
                "reminders_delayed_by_limits": self.delayed,
            },
            "discounts": {cur: str(amount) for cur, amount in sorted(self.discounts.items())},
            "by_month": {m: dict(c) for m, c in sorted(self.by_month.items())},
            "by_week": {w: dict(c) for w, c in sorted(self.by_week.items())},
            "by_customer": customers,
            "suppressed": {
                "by_pause": dict(sorted(pauses.items())),
                "items": list(self.suppressed.values()),
            },
            "notes": list(NOTES),
        }
