"""One customer's evaluation in progress: what the evaluator knows of the customer and what
it has decided so far. The concerns (invoices, instalments, invoice delivery, the reminder,
credit holds) are plain functions that read and add to it, in rules.engine.evaluate's order.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from typing import Any

from rules.engine.conditions import Aggregate
from rules.engine.decisions import ActionKind
from rules.engine.decisions import Decision
from rules.engine.decisions import Evaluation
from rules.engine.decisions import FiringClaim
from rules.engine.decisions import Suppression
from rules.engine.facts import CustomerFact
from rules.engine.facts import OrgFacts
from rules.engine.messages import MessageItem
from rules.engine.messages import NoteTexts
from rules.engine.messages import customer_part
from rules.pauses.checks import customer_checks
from rules.ruleset.book import Policy
from rules.ruleset.book import RuleBook
from rules.ruleset.book import Segment


def header(book: RuleBook, facts: OrgFacts, customer: CustomerFact, as_of: date) -> dict[str, Any]:
    """The part of every decision's explanation that says which rules, day and facts it was
    made from."""
    return {
        "rule_set": book.name,
        "version": book.version,
        "as_of": as_of.isoformat(),
        "timezone": facts.timezone,
        "mirror_synced_at": facts.synced_at.isoformat() if facts.synced_at else None,
        "customer": customer.external_id,
        "customer_checks": customer_checks(customer),
    }


class CustomerRun:
    """The state shared by one customer's concerns; `add` and `suppress` record outcomes."""

    def __init__(
        self,
        book: RuleBook,
        facts: OrgFacts,
        customer: CustomerFact,
        as_of: date,
        now: datetime,
        evaluation: Evaluation,
        texts: NoteTexts | None = None,
    ):
        self.book, self.facts, self.customer = book, facts, customer
        self.texts = texts or NoteTexts(facts.name, as_of)
        self.as_of, self.now, self.evaluation = as_of, now, evaluation
        self.evaluation_claims: list[FiringClaim] = evaluation.claims
        self.items: list[MessageItem] = []
        self.step_holds: list[str] = []
        self.explicit_release: list[str] = []
        self.policy: Policy | None = None
        self.segment: Segment | None = None
        self.days: dict[str, int] = {}
        self.aggs: dict[str, Aggregate] = {}
        self.covered: dict[str, str] = {}  # currency -> why unapplied credit covers it
        self.min_offer_days = min((o.min_days_overdue for o in book.offers), default=0)

    def suppress(
        self, target: str, rule: str, step: str, period: str, pause: str, detail: str = ""
    ) -> None:
        cid = self.customer.external_id
        self.evaluation.suppressed.append(
            Suppression(cid, target, rule, step, period, pause, detail)
        )

    def add(
        self,
        kind: ActionKind,
        rule: str,
        step: str,
        target: str,
        period: str,
        when: datetime,
        payload: dict[str, Any],
        explanation: dict[str, Any],
        claims: list[FiringClaim],
        merge_into: int | None = None,
    ) -> Decision:
        full = header(self.book, self.facts, self.customer, self.as_of)
        full["policy"] = self.policy.key if self.policy else None
        full["segment"] = self.segment.key if self.segment else None
        full.update(explanation)
        decision = Decision(
            kind,
            rule,
            step,
            target,
            period,
            self.customer.external_id,
            when,
            payload,
            full,
            claims,
            merge_into,
        )
        self.evaluation.decisions.append(decision)
        return decision

    def note_text(self, source: str, line: dict[str, Any], name: str) -> str:
        """`source` (a note's or task's text) rendered about one invoice line."""
        payload = {"customer": customer_part(self.customer), "invoices": [line]}
        return self.texts.render(source, payload, {"key": line["step"], "name": ""}, name)

    def has_customer_state(self) -> bool:
        """Whether the customer needs a run without open invoices: a hold to release, a hold
        action planned, or a payment plan."""
        cid = self.customer.external_id
        history = self.facts.history
        return self.customer.on_hold or cid in history.planned_holds or cid in self.facts.plans

    def timezone(self) -> str:
        if self.book.limits.use_customer_timezone and self.customer.timezone:
            return self.customer.timezone
        return self.facts.timezone

    def step_name(self, lead: MessageItem) -> str:
        """The display name of the step the lead line of a reminder comes from ('' for an offer
        or instalment line)."""
        if self.policy is None or lead.kind != "step":
            return ""
        return next((s.name for s in self.policy.steps if s.key == lead.step), "")
