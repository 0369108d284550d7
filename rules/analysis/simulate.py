"""Apply an evaluation to in-memory history, as if the outbox stored it and every action was
performed at its scheduled time. Pure; used by the backtest and by property tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from itertools import count

from rules.engine.decisions import ActionKind
from rules.engine.decisions import Evaluation
from rules.engine.facts import Firing
from rules.engine.facts import History


@dataclass
class Simulator:
    history: History = field(default_factory=History)
    holds: dict[str, bool] = field(default_factory=dict)  # customer -> on hold (by rule)
    _ids: count[int] = field(default_factory=lambda: count(1))

    def apply(self, evaluation: Evaluation) -> None:
        """Feed one day's evaluation back as history, as the outbox would have: its firings, its
        reminders as planned messages, its holds; so the next simulated day sees them."""
        seen = set()
        for claim in evaluation.claims:
            if claim.key in seen:
                continue
            seen.add(claim.key)
            firing = Firing(claim.rule, claim.step, claim.period, evaluation.as_of, claim.amount)
            self.history.firings.setdefault(claim.target, []).append(firing)
        for decision in evaluation.decisions:
            cid = decision.customer_id
            if decision.kind == ActionKind.REMINDER and decision.merge_into is None:
                action_id = next(self._ids)
                self.history.messages.setdefault(cid, []).append(decision.scheduled_for)
                self.history.planned_reminders[cid] = (action_id, decision.scheduled_for)
            elif decision.kind == ActionKind.CREDIT_HOLD:
                self.holds[cid] = True
            elif decision.kind == ActionKind.RELEASE_HOLD:
                self.holds[cid] = False

    def advance(self, now: datetime) -> None:
        """Everything scheduled before `now` has been performed."""
        planned = self.history.planned_reminders
        for cid in [c for c, (_, when) in planned.items() if when <= now]:
            del planned[cid]
