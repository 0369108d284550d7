"""What an evaluation returns: decisions (future outbox rows), suppressions and cancellations.

Every decision carries its outbox key (rule, step, target, period), the step firings it
claims, its payload (what it would write) and its explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class ActionKind(StrEnum):
    """What a decision does, and so what its outbox action writes. The same words name a step's
    action types in a rule-set document ("reminder", "note", ...)."""

    REMINDER = "reminder"
    NOTE = "note"
    TASK = "task"
    CREDIT_HOLD = "credit_hold"
    RELEASE_HOLD = "release_hold"
    SETTLE_DISCOUNT = "settle_discount"
    SEND_INVOICE = "send_invoice"


# What reaches the customer, and so counts toward the caps.
MESSAGE_KINDS = frozenset({ActionKind.REMINDER, ActionKind.SEND_INVOICE})
HOLD_KINDS = frozenset({ActionKind.CREDIT_HOLD, ActionKind.RELEASE_HOLD})


@dataclass(frozen=True, slots=True)
class FiringClaim:
    rule: str
    step: str
    target: str
    period: str
    amount: Decimal | None = None
    customer: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule, self.step, self.target, self.period)


@dataclass(slots=True)
class Decision:
    kind: ActionKind
    rule: str
    step: str
    target: str
    period: str
    customer_id: str
    scheduled_for: datetime
    payload: dict[str, Any]
    explanation: dict[str, Any]
    firings: list[FiringClaim] = field(default_factory=list)
    merge_into: int | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.rule, self.step, self.target, self.period)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "step": self.step,
            "target": self.target,
            "period": self.period,
            "customer": self.customer_id,
            "scheduled_for": self.scheduled_for.isoformat(),
            "payload": self.payload,
            "explanation": self.explanation,
            "merge_into": self.merge_into,
        }


@dataclass(frozen=True, slots=True)
class Suppression:
    """A step (or offer, or instalment reminder) a pause held back."""

    customer_id: str
    target: str
    rule: str
    step: str
    period: str
    pause: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "customer": self.customer_id,
            "target": self.target,
            "rule": self.rule,
            "step": self.step,
            "period": self.period,
            "pause": self.pause,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Evaluation:
    as_of: date
    version: int | None
    decisions: list[Decision] = field(default_factory=list)
    suppressed: list[Suppression] = field(default_factory=list)
    claims: list[FiringClaim] = field(default_factory=list)
    cancellations: list[tuple[int, str]] = field(default_factory=list)

    def writes_nothing(self) -> bool:
        """Whether storing it would write nothing: no decision, firing or cancellation."""
        return not (self.decisions or self.claims or self.cancellations)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.kind] = out.get(d.kind, 0) + 1
        return out


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
