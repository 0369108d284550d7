"""The customer-level half of an evaluation: plan instalment reminders, the one consolidated
reminder per customer per run, and credit holds (placed and released as single decisions).
"""

from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from rules.engine.conditions import Aggregate
from rules.engine.conditions import customer_value
from rules.engine.conditions import holds
from rules.engine.conditions import plain
from rules.engine.credit import credit_lines
from rules.engine.decisions import ActionKind
from rules.engine.decisions import Decision
from rules.engine.decisions import Evaluation
from rules.engine.decisions import FiringClaim
from rules.engine.decisions import Suppression
from rules.engine.delivery import DELIVERY_RULE
from rules.engine.delivery import SEND
from rules.engine.delivery import delivery_explanation
from rules.engine.delivery import delivery_payload
from rules.engine.delivery import due_to_send
from rules.engine.delivery import recipient
from rules.engine.facts import CustomerFact
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.engine.facts import PlanFact
from rules.engine.messages import INSTALMENT
from rules.engine.messages import MessageItem
from rules.engine.messages import context
from rules.engine.messages import customer_part
from rules.engine.messages import reminder_payload
from rules.engine.timing import next_allowed
from rules.pauses.checks import HONOURED
from rules.pauses.checks import customer_checks
from rules.pauses.checks import plan_state
from rules.ruleset.book import Policy
from rules.ruleset.book import RuleBook
from rules.ruleset.book import Segment
from rules.ruleset.features import INVOICE_DELIVERY

HOLD_RULE = "hold"


def header(book: RuleBook, facts: OrgFacts, customer: CustomerFact, as_of: date) -> dict:
    return {
        "rule_set": book.name,
        "version": book.version,
        "as_of": as_of.isoformat(),
        "timezone": facts.timezone,
        "mirror_synced_at": facts.synced_at.isoformat() if facts.synced_at else None,
        "customer": customer.external_id,
        "customer_checks": customer_checks(customer),
    }


def _line_order(item: MessageItem) -> tuple:
    """Highest step first; within a step, the oldest due date first."""
    when = item.line.get("due_date") or item.line.get("due_on") or ""
    return (-item.priority[0], -item.priority[1], when, item.claim.key)


class CustomerLevel:
    def __init__(
        self,
        book: RuleBook,
        facts: OrgFacts,
        customer: CustomerFact,
        as_of: date,
        now: datetime,
        evaluation: Evaluation,
    ):
        self.book, self.facts, self.customer = book, facts, customer
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

    # ------------------------------------------------------------ helpers

    def suppress(
        self, target: str, rule: str, step: str, period: str, pause: str, detail: str = ""
    ) -> None:
        cid = self.customer.external_id
        self.evaluation.suppressed.append(
            Suppression(cid, target, rule, step, period, pause, detail)
        )

    def add(
        self,
        kind: str,
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

    def note_context(self, line: dict[str, Any]) -> dict[str, Any]:
        payload = {"customer": customer_part(self.customer), "invoices": [line]}
        return context(payload, self.facts.name, self.as_of, {"key": line["step"], "name": ""})

    def _has_customer_state(self) -> bool:
        cid = self.customer.external_id
        history = self.facts.history
        return self.customer.on_hold or cid in history.planned_holds or cid in self.facts.plans

    # ------------------------------------------------------------ plan instalments

    def instalments(self) -> None:
        if self.book.plans.template is None:
            return
        for plan in self.facts.plans.get(self.customer.external_id, ()):
            self._plan(plan)

    def _plan(self, plan: PlanFact) -> None:
        state = plan_state(plan, self.customer, self.as_of, self.book.plans.grace_days)
        if state.status != HONOURED:
            return
        target = f"plan:{plan.id}"
        fired = self.facts.history.fired(target)
        due_so_far = 0
        for inst in plan.instalments:
            due_so_far += inst.amount
            if state.paid >= due_so_far:
                continue  # met
            reached = [
                d
                for d in self.book.plans.remind_days_before
                if self.as_of >= inst.due_on - timedelta(days=d)
            ]
            if not reached or self.as_of > inst.due_on + timedelta(days=self.book.plans.grace_days):
                return
            days_before = min(reached)
            step = f"instalment-{inst.number}"
            if any(f.step == step and int(f.period[1:]) <= days_before for f in fired):
                return
            rule, period = target, f"d{days_before}"
            if self.customer.do_not_contact:
                self.suppress(target, rule, step, period, "do_not_contact")
                return
            claim = FiringClaim(
                rule, step, target, period, inst.amount, customer=self.customer.external_id
            )
            line = {
                "plan": plan.id,
                "number": inst.number,
                "due_on": inst.due_on.isoformat(),
                "amount": str(inst.amount),
                "currency": plan.currency,
                "days_until": (inst.due_on - self.as_of).days,
            }
            explanation = {"plan": plan.id, "instalment": inst.number, "plan_state": state.detail}
            self.evaluation_claims.append(claim)
            item = MessageItem(
                INSTALMENT, rule, step, -1, self.book.plans.template, claim, line, explanation
            )
            self.items.append(item)
            return  # only the first unmet instalment is reminded of

    # ------------------------------------------------------------ invoice delivery

    def deliver(self) -> None:
        """Send the invoices not yet sent to the customer whose send day has come."""
        after = self.book.delivery_after
        if after is None:
            return
        since = self.facts.since_for(INVOICE_DELIVERY)
        for inv in sorted(self.customer.unsent, key=lambda i: (i.issue_date, i.external_id)):
            fired = self.facts.history.fired(inv.external_id)
            if due_to_send(inv, after, self.as_of, since, fired):
                self._deliver(inv, after)

    def _deliver(self, inv: InvoiceFact, after_days: int) -> None:
        target = inv.external_id
        if self.customer.do_not_contact:
            self.suppress(target, DELIVERY_RULE, SEND, "0", "do_not_contact")
            return
        if recipient(inv, self.customer) is None:
            why = "neither the invoice nor the customer has an email address"
            self.suppress(target, DELIVERY_RULE, SEND, "0", "no_email", why)
            return
        cid = self.customer.external_id
        claim = FiringClaim(DELIVERY_RULE, SEND, target, "0", inv.total, customer=cid)
        sent = self.facts.history.messages.get(cid, [])
        when, waited = next_allowed(self.now, self._timezone(), self.book.limits, sent)
        explanation = delivery_explanation(inv, after_days)
        explanation["schedule"] = {"scheduled_for": when.isoformat(), "waited_for": waited}
        payload = delivery_payload(inv, self.customer)
        self.evaluation_claims.append(claim)
        self.add(
            ActionKind.SEND_INVOICE,
            DELIVERY_RULE,
            SEND,
            target,
            "0",
            when,
            payload,
            explanation,
            [claim],
        )

    # ------------------------------------------------------------ the reminder

    def message(self) -> None:
        if not self.items:
            return
        items = sorted(self.items, key=_line_order)
        lead = items[0]
        cid = self.customer.external_id
        planned = self.facts.history.planned_reminders.get(cid)
        if planned is not None:
            merge_into, when, waited = (
                planned[0],
                planned[1],
                ["joins the reminder already planned"],
            )
        else:
            tz = self._timezone()
            sent = self.facts.history.messages.get(cid, [])
            merge_into = None
            when, waited = next_allowed(self.now, tz, self.book.limits, sent)
        payload = reminder_payload(lead.template or "", self.customer, items)
        payload["step"] = {"key": lead.step, "name": self._step_name(lead)}
        currencies = {i.line["currency"] for i in items if i.line.get("currency")}
        payload["credit"] = credit_lines(self.customer, currencies)
        explanation = {
            "lead": {"rule": lead.rule, "step": lead.step, "template": lead.template},
            "items": [i.explanation for i in items],
            "schedule": {
                "earliest": self.now.isoformat(),
                "scheduled_for": when.isoformat(),
                "timezone": self._timezone(),
                "waited_for": waited,
            },
        }
        claims = [i.claim for i in items]
        self.add(
            ActionKind.REMINDER,
            lead.rule,
            lead.step,
            f"customer:{cid}",
            self.as_of.isoformat(),
            when,
            payload,
            explanation,
            claims,
            merge_into,
        )

    def _timezone(self) -> str:
        if self.book.limits.use_customer_timezone and self.customer.timezone:
            return self.customer.timezone
        return self.facts.timezone

    def _step_name(self, lead: MessageItem) -> str:
        if self.policy is None or lead.kind != "step":
            return ""
        return next((s.name for s in self.policy.steps if s.key == lead.step), "")

    # ------------------------------------------------------------ credit holds

    def hold(self) -> None:
        c = self.customer
        rule_hits = self._hold_rule_hits()
        desired = bool(rule_hits or self.step_holds)
        why = {
            "hold_rules": rule_hits,
            "hold_steps": self.step_holds,
            "release_steps": self.explicit_release,
        }
        target, period = f"customer:{c.external_id}", self.as_of.isoformat()
        planned = self.facts.history.planned_holds.get(c.external_id)
        if desired and not c.on_hold:
            if planned is not None and planned[1] == ActionKind.RELEASE_HOLD:
                why_not = "cancelled: the hold condition returned before the release was performed"
                self.evaluation.cancellations.append((planned[0], why_not))
                return
            reason = self.book.hold_reason or "Overdue balance"
            payload = {"customer": c.external_id, "on_hold": True, "reason": reason}
            self.add(
                ActionKind.CREDIT_HOLD,
                HOLD_RULE,
                "place",
                target,
                period,
                self.now,
                payload,
                why,
                [],
            )
            return
        if desired or not c.on_hold:
            return
        if not (c.hold_by_rule or self.explicit_release):
            return  # a hold placed by hand stays until a person or a release step lifts it
        if planned is not None and planned[1] == ActionKind.CREDIT_HOLD:
            reason = "cancelled: the hold condition cleared before the hold was performed"
            self.evaluation.cancellations.append((planned[0], reason))
            return
        payload = {"customer": c.external_id, "on_hold": False, "reason": "hold condition cleared"}
        self.add(
            ActionKind.RELEASE_HOLD,
            HOLD_RULE,
            "release",
            target,
            period,
            self.now,
            payload,
            why,
            [],
        )

    def _hold_rule_hits(self) -> list[dict]:
        hits = []
        home = self.facts.currency
        for cond in self.book.hold_conditions:
            for currency, agg in sorted(self.aggs.items()):
                if currency in self.covered or not cond.applies_in(currency, home):
                    continue
                seen = customer_value(cond.fact, agg)
                if holds(cond, seen):
                    hits.append(
                        {
                            "fact": cond.fact,
                            "op": cond.op,
                            "value": plain(cond.value),
                            "seen": plain(seen),
                            "currency": currency,
                        }
                    )
        return hits
