"""The evaluator: mirror facts + a rule book + an "as of" date -> explained decisions. Pure.

`evaluate(book, facts, as_of, now)` walks every customer (or the ones named): it sends the
invoices not yet sent to the customer (invoice delivery), picks the customer's policy by
segment, finds the step each open invoice is due for, applies pauses (unapplied credit that
covers the overdue amount among them), settles early-payment discounts, makes settlement
offers, reminds of plan instalments, gathers everything a customer is due into one reminder
scheduled for the next allowed time, and places or releases credit holds. A do-not-contact
customer's steps fire without their reminder, which is sent once contact is allowed again.
Same inputs, same decisions, in the same order.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from datetime import datetime

from rules.engine.conditions import Aggregate
from rules.engine.credit import CREDIT_PAUSE
from rules.engine.credit import covered
from rules.engine.customer import CustomerLevel
from rules.engine.decisions import ActionKind
from rules.engine.decisions import Decision
from rules.engine.decisions import Evaluation
from rules.engine.decisions import FiringClaim
from rules.engine.decisions import Suppression
from rules.engine.discounts import Settlement
from rules.engine.discounts import early_offer
from rules.engine.discounts import offer_item
from rules.engine.discounts import settlement_for
from rules.engine.dunning import HELD
from rules.engine.dunning import RESUMED
from rules.engine.dunning import Candidate
from rules.engine.dunning import aggregates
from rules.engine.dunning import choose_policy
from rules.engine.dunning import current_step
from rules.engine.dunning import held_reminder
from rules.engine.dunning import last_fired
from rules.engine.dunning import next_candidate
from rules.engine.dunning import policy_rule
from rules.engine.facts import Firing
from rules.engine.facts import InvoiceFact
from rules.engine.facts import OrgFacts
from rules.engine.messages import OFFER
from rules.engine.messages import STEP
from rules.engine.messages import MessageItem
from rules.engine.messages import invoice_line
from rules.engine.messages import render_text
from rules.pauses.checks import invoice_pause
from rules.ruleset.book import Policy
from rules.ruleset.book import RuleBook
from rules.ruleset.features import EARLY_PAYMENT


def evaluate(
    book: RuleBook,
    facts: OrgFacts,
    as_of: date,
    now: datetime,
    customer_ids: list[str] | None = None,
) -> Evaluation:
    """Decisions for `as_of` (a date in the organization's time zone), scheduled from `now`."""
    evaluation = Evaluation(as_of, book.version)
    ids = sorted(facts.customers) if customer_ids is None else sorted(set(customer_ids))
    for cid in ids:
        customer = facts.customers.get(cid)
        if customer is not None:
            CustomerRun(book, facts, customer, as_of, now, evaluation).run()
    return evaluation


class CustomerRun(CustomerLevel):
    """One customer's evaluation; the invoice-level half (customer-level half is inherited)."""

    def run(self) -> None:
        c = self.customer
        open_invoices = sorted(
            (i for i in c.invoices if i.is_open and i.anchor is not None),
            key=lambda i: (i.anchor, i.external_id),
        )
        if c.deleted or c.merged_into is not None:
            self._never_chased(open_invoices)
            return
        self.deliver()
        if not open_invoices and not self._has_customer_state():
            return
        self.policy, self.segment = choose_policy(self.book, c)
        self.days = {i.external_id: (self.as_of - i.anchor).days for i in open_invoices}  # type: ignore[operator]
        disputes = self.facts.disputes
        disputed = {
            i.external_id
            for i in open_invoices
            if i.external_id in disputes
            and any(d.active_on(self.as_of) for d in disputes[i.external_id])
        }
        self.aggs = aggregates(open_invoices, self.days, disputed)
        self.covered = covered(self.book, c, self.aggs)
        for inv in open_invoices:
            self._invoice(inv)
        self.instalments()
        self.message()
        self.hold()

    def _never_chased(self, open_invoices: list[InvoiceFact]) -> None:
        pause = "merged" if self.customer.merged_into is not None else "deleted"
        detail = f"merged into {self.customer.merged_into}" if pause == "merged" else ""
        for inv in open_invoices:
            self.suppress(inv.external_id, "*", "*", "*", pause, detail)

    def _invoice(self, inv: InvoiceFact) -> None:
        fired = self.facts.history.fired(inv.external_id)
        if inv.last_paid_on is not None:
            since = self.facts.since_for(EARLY_PAYMENT)
            settlement = settlement_for(self.book, inv, fired, since)
            if settlement is not None:
                self._settle(inv, settlement, fired)
                return
        days = self.days[inv.external_id]
        agg = self.aggs[inv.currency]
        pause, checks = invoice_pause(
            self.facts, self.customer, inv, self.as_of, self.book.plans.grace_days
        )
        if pause is None and days > 0 and inv.currency in self.covered:
            pause = CREDIT_PAUSE
            why = self.covered[inv.currency]
            checks = [*checks, {"pause": CREDIT_PAUSE, "active": True, "detail": why}]
        policy = self.policy
        candidate = None
        if policy is not None:
            done = last_fired(policy, fired) if fired else (-1, None)
            since = self.facts.rules_since
            candidate = next_candidate(policy, inv, days, fired, agg, self.as_of, since, done)
        if pause is not None:
            if candidate is not None and policy is not None:
                period = str(candidate.item.period)
                step = candidate.step.key
                self.suppress(inv.external_id, policy.rule, step, period, pause, _active(checks))
            self._offers(inv, fired, days, pause, checks)
            return
        if policy is not None:
            if policy.places_holds:
                step_now = candidate.step if candidate else current_step(policy, done[0])
                if step_now is not None and step_now.action("credit_hold") is not None:
                    self.step_holds.append(f"{inv.number or inv.external_id}: step {step_now.key}")
            if candidate is not None:
                self._fire(inv, policy, candidate, days, agg, checks)
            elif fired:
                self._resume(inv, policy, fired, days, agg, checks)
        if self.book.offers and days >= self.min_offer_days:
            self._offers(inv, fired, days, None, checks)

    def _fire(
        self,
        inv: InvoiceFact,
        policy: Policy,
        cand: Candidate,
        days: int,
        agg: Aggregate,
        checks: list[dict],
    ) -> None:
        step, rule = cand.step, policy_rule(policy)
        claim = FiringClaim(
            rule,
            step.key,
            inv.external_id,
            str(cand.item.period),
            inv.balance,
            customer=self.customer.external_id,
        )
        explanation = _step_explanation(inv, cand, days, agg, checks)
        reminder = step.action(ActionKind.REMINDER)
        if step.action(ActionKind.RELEASE_HOLD) is not None:
            self.explicit_release.append(f"{inv.number or inv.external_id}: step {step.key}")
        self.evaluation_claims.append(claim)
        if reminder is not None and self.customer.do_not_contact:
            # The step is reached (its notes and tasks happen now); its reminder is owed.
            self.suppress(inv.external_id, rule, step.key, claim.period, "do_not_contact")
            self.evaluation_claims.append(dataclasses.replace(claim, step=step.key + HELD))
        elif reminder is not None:
            discount = early_offer(self.book, inv, self.as_of)
            line = invoice_line(inv, days, step.key, discount)
            position, template = cand.item.position, reminder.template
            item = MessageItem(STEP, rule, step.key, position, template, claim, line, explanation)
            self.items.append(item)
        for j, action in enumerate(step.actions):
            if action.type in (ActionKind.NOTE, ActionKind.TASK):
                self._note(
                    inv, rule, f"{step.key}:{action.type}:{j}", claim, action, days, explanation
                )

    def _resume(
        self,
        inv: InvoiceFact,
        policy: Policy,
        fired: list[Firing],
        days: int,
        agg: Aggregate,
        checks: list[dict],
    ) -> None:
        """The reminder do-not-contact held back, sent once contact is allowed again."""
        item = held_reminder(policy, fired)
        if item is None or item.offset < 0 <= days:
            return  # nothing owed; a "due soon" message is never sent once the invoice is due
        step, rule, period = policy.steps[item.step_index], policy.rule, str(item.period)
        if self.customer.do_not_contact:
            self.suppress(inv.external_id, rule, step.key, period, "do_not_contact")
            return
        cid = self.customer.external_id
        claim = FiringClaim(rule, step.key + RESUMED, inv.external_id, period, inv.balance, cid)
        explanation = _step_explanation(inv, Candidate(item, step, [], ()), days, agg, checks)
        explanation["resumed"] = "held back while the customer was do-not-contact"
        line = invoice_line(inv, days, step.key, early_offer(self.book, inv, self.as_of))
        template = step.action(ActionKind.REMINDER).template  # type: ignore[union-attr]
        self.evaluation_claims.append(claim)
        self.items.append(
            MessageItem(STEP, rule, step.key, item.position, template, claim, line, explanation)
        )

    def _note(self, inv, rule, step_key, claim, action, days, explanation) -> None:  # type: ignore[no-untyped-def]
        line = invoice_line(inv, days, step_key, None)
        ctx = self.note_context(line)
        payload = {
            "on": action.on if action.type == ActionKind.NOTE else "customer",
            "invoice": inv.external_id,
            "customer": self.customer.external_id,
            "text": render_text(
                action.text or "", ctx, f"the {action.type} text of step {step_key}"
            ),
        }
        if action.type == ActionKind.TASK:
            payload["assignee"] = action.assignee
        self.add(
            action.type,
            rule,
            step_key,
            inv.external_id,
            claim.period,
            self.now,
            payload,
            explanation,
            [claim],
        )

    def _offers(
        self,
        inv: InvoiceFact,
        fired: list[Firing],
        days: int,
        pause: str | None,
        checks: list[dict],
    ) -> None:
        if not self.book.offers:
            return
        made = {f.rule for f in fired if f.step == "offer"}
        highest_made = max(
            (o.min_days_overdue for o in self.book.offers if f"offer:{o.key}" in made), default=0
        )
        eligible = [
            o
            for o in self.book.offers
            if days >= o.min_days_overdue > highest_made and inv.balance >= o.min_balance
        ]
        if not eligible:
            return
        offer = max(eligible, key=lambda o: o.min_days_overdue)
        rule = f"offer:{offer.key}"
        if pause is not None or self.customer.do_not_contact:
            self.suppress(
                inv.external_id, rule, "offer", "0", pause or "do_not_contact", _active(checks)
            )
            return
        claim = FiringClaim(
            rule, "offer", inv.external_id, "0", inv.balance, customer=self.customer.external_id
        )
        explanation = {
            "invoice": inv.external_id,
            "offer": offer.key,
            "days_overdue": days,
            "min_days_overdue": offer.min_days_overdue,
            "balance": str(inv.balance),
            "percent": str(offer.percent),
            "pauses_checked": checks,
        }
        line = {
            k: (str(v) if not isinstance(v, str) else v)
            for k, v in offer_item(offer, inv, self.as_of).items()
        }
        self.evaluation_claims.append(claim)
        self.items.append(
            MessageItem(OFFER, rule, "offer", -1, offer.template, claim, line, explanation)
        )

    def _settle(self, inv: InvoiceFact, settlement: Settlement, fired: list[Firing]) -> None:
        if any(f.rule == settlement.rule and f.step == "settle" for f in fired):
            return  # decided before; the invoice stays unchased until it is written off
        claim = FiringClaim(
            settlement.rule,
            "settle",
            inv.external_id,
            "0",
            settlement.amount,
            customer=self.customer.external_id,
        )
        payload = {
            "invoice": inv.external_id,
            "number": inv.number,
            "customer": self.customer.external_id,
            "amount": str(settlement.amount),
            "currency": inv.currency,
            "on": self.as_of.isoformat(),
        }
        explanation = dict(settlement.explanation, invoice=inv.external_id)
        self.evaluation_claims.append(claim)
        self.add(
            ActionKind.SETTLE_DISCOUNT,
            settlement.rule,
            "settle",
            inv.external_id,
            "0",
            self.now,
            payload,
            explanation,
            [claim],
        )


def _step_explanation(
    inv: InvoiceFact, cand: Candidate, days: int, agg: Aggregate, checks: list[dict]
) -> dict:
    return {
        "invoice": inv.external_id,
        "number": inv.number,
        "step": cand.step.key,
        "period": cand.item.period,
        "offset_days": cand.item.offset,
        "due_date": (inv.due_date or inv.issue_date).isoformat(),  # type: ignore[union-attr]
        "days_overdue": days,
        "balance": str(inv.balance),
        "currency": inv.currency,
        "customer_total_overdue": str(agg.total_overdue),
        "conditions": cand.conditions,
        "passed_over": list(cand.passed_over),
        "pauses_checked": checks,
    }


def _active(checks: list[dict]) -> str:
    return "; ".join(c["detail"] for c in checks if c["active"])


__all__ = ["evaluate", "Decision", "Suppression"]
