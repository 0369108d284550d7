"""The outbox: evaluation results become Action rows exactly once.

Order matters for exactly-once under concurrency. First every step firing is inserted with
ON CONFLICT DO NOTHING; only the firings this transaction won are acted upon (two evaluations
racing on one organization insert the same keys in the same sorted order, so the loser wins
none). Then the actions are inserted, again ignoring conflicts on their unique key
(organization, rule, step, target, period). A customer's new reminder items join a reminder
still planned for them instead of making a second message.

The first run of a newly activated rule-set version, and any run that would send more messages
than the rule set allows in one go, store their new actions as `awaiting_approval`: an admin sees
what would go out and approves all, some or none (outbox.approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import hold_organization
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from outbox.models import new_key
from rules import bulk
from rules.engine.decisions import MESSAGE_KINDS
from rules.engine.decisions import ActionKind
from rules.engine.decisions import Decision
from rules.engine.decisions import Evaluation
from rules.models import StepFiring


@dataclass(frozen=True)
class Gate:
    """Whether a run's new actions wait for approval: always on the first run of a version,
    and when the run would send more than `approve_over` messages."""

    first_run: bool = False
    approve_over: int | None = None

    def holds(self, messages: int) -> str:
        """Why the run waits ("" when it does not)."""
        if self.first_run and messages:
            return "waiting for approval: the first run of a newly activated rule set"
        if self.approve_over is not None and messages > self.approve_over:
            return (
                f"waiting for approval: this run would send {messages} messages, "
                f"more than the {self.approve_over} the rule set allows without approval"
            )
        return ""


@dataclass
class Stored:
    created: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    claims_won: int = 0
    claims_lost: int = 0


def store(
    session: Session,
    org_id: int,
    evaluation: Evaluation,
    version_id: int | None,
    gate: Gate | None = None,
    batch: str | None = None,
) -> Stored:
    """Write `evaluation` into the outbox; the caller commits."""
    hold_organization(session, org_id)
    result = Stored()
    won = _claim(session, org_id, evaluation, result)
    rows: list[dict[str, Any]] = []
    reminders: list[tuple[Decision, dict[str, Any]]] = []
    for decision in evaluation.decisions:
        kept = _keep(decision, won)
        if kept is None:
            continue
        if decision.kind == ActionKind.REMINDER:
            reminders.append((decision, kept))
        else:
            rows.append(_row(org_id, decision, kept, evaluation, version_id))
    targets = _merge_targets(session, [d.merge_into for d, _ in reminders if d.merge_into])
    fresh: list[tuple[Decision, dict[str, Any]]] = []
    for decision, payload in reminders:
        action = targets.get(decision.merge_into) if decision.merge_into else None
        if action is not None and action.status in S.unsent():
            _merge(action, decision, payload)
            result.merged.append(action.id)
        else:
            fresh.append((decision, payload))
    messages = len(fresh) + sum(1 for row in rows if row["kind"] in MESSAGE_KINDS)
    held = (gate or Gate()).holds(messages)
    fresh_rows = [_row(org_id, d, p, evaluation, version_id) for d, p in fresh]
    for row in (*rows, *fresh_rows):
        row["batch"] = batch
        if held:
            row["status"], row["reason"] = S.AWAITING_APPROVAL, held
    result.created += _insert_actions(session, rows)
    _store_reminders(session, org_id, fresh_rows, evaluation, result)
    _record_creation(session, org_id, result.created, evaluation, held)
    for action_id, reason in evaluation.cancellations:
        action = session.get(Action, action_id, with_for_update=True)
        if action is not None and action.status in S.unsent():
            transition(action, S.CANCELLED, reason, actor="rules")
            result.cancelled.append(action_id)
    session.flush()
    return result


def _claim(
    session: Session, org_id: int, evaluation: Evaluation, result: Stored
) -> set[tuple[Any, ...]]:
    unique = {c.key: c for c in evaluation.claims}
    rows = [
        {
            "organization_id": org_id,
            "rule": c.rule,
            "step": c.step,
            "target": c.target,
            "period": c.period,
            "customer_external_id": c.customer,
            "fired_on": evaluation.as_of,
            "amount": c.amount,
        }
        for _, c in sorted(unique.items())
    ]
    cols = ("rule", "step", "target", "period")
    won = set(bulk.insert_ignore(session, StepFiring.__table__, rows, cols))
    result.claims_won, result.claims_lost = len(won), len(rows) - len(won)
    return won


def _keep(decision: Decision, won: set[tuple[Any, ...]]) -> dict[str, Any] | None:
    """The payload to store, trimmed to the firings won; None when nothing is left."""
    if not decision.firings:
        return decision.payload
    if decision.kind != ActionKind.REMINDER:
        return decision.payload if all(c.key in won for c in decision.firings) else None
    payload = dict(decision.payload)
    for part in ("invoices", "offers", "instalments"):
        payload[part] = [line for line in payload[part] if tuple(line["claim"]) in won]
    if not (payload["invoices"] or payload["offers"] or payload["instalments"]):
        return None
    return payload


def _row(
    org_id: int,
    d: Decision,
    payload: dict[str, Any],
    evaluation: Evaluation,
    version_id: int | None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "organization_id": org_id,
        "rule": d.rule,
        "step": d.step,
        "target": d.target,
        "period": d.period,
        "kind": d.kind,
        "customer_external_id": d.customer_id,
        "rule_version_id": version_id,
        "rule_version": evaluation.version,
        "status": S.PLANNED,
        "reason": "",
        "decided_on": evaluation.as_of,
        "scheduled_for": d.scheduled_for,
        "payload": payload,
        "explanation": d.explanation,
        "key": new_key(),
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _insert_actions(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    return [r[0] for r in bulk.insert_ignore(session, Action.__table__, rows, ("id",))]


def _store_reminders(
    session: Session,
    org_id: int,
    rows: list[dict[str, Any]],
    evaluation: Evaluation,
    result: Stored,
) -> None:
    """Insert new reminders; one that meets an earlier reminder of the same day (already on
    its way, so it could not absorb the items) takes the next free period, "<date>#2"..."""
    cols = ("id", "target")
    inserted = {
        target: i for i, target in bulk.insert_ignore(session, Action.__table__, rows, cols)
    }
    result.created += list(inserted.values())
    for row in rows:
        if row["target"] in inserted:
            continue
        for n in range(2, 50):
            row["period"] = f"{evaluation.as_of.isoformat()}#{n}"
            ids = _insert_actions(session, [row])
            if ids:
                result.created += ids
                break


def _record_creation(
    session: Session, org_id: int, ids: list[int], evaluation: Evaluation, held: str
) -> None:
    """The first line of each new action's history."""
    now = utcnow()
    actor = f"rules v{evaluation.version}" if evaluation.version else "rules (draft)"
    rows = [
        {
            "action_id": action_id,
            "organization_id": org_id,
            "at": now,
            "from_status": "",
            "to_status": S.AWAITING_APPROVAL if held else S.PLANNED,
            "actor": actor,
            "reason": held or f"decided on {evaluation.as_of.isoformat()}",
        }
        for action_id in ids
    ]
    bulk.append(session, ActionEvent.__table__, rows)


def _merge_targets(session: Session, ids: list[int]) -> dict[int, Action]:
    """The planned reminders new items may join, locked (one query)."""
    if not ids:
        return {}
    query = select(Action).where(Action.id.in_(ids)).with_for_update()
    return {a.id: a for a in session.scalars(query)}


def _merge(action: Action, decision: Decision, payload: dict[str, Any]) -> None:
    old = dict(action.payload)
    for part in ("invoices", "offers", "instalments"):
        have = {tuple(line["claim"]) for line in old.get(part, [])}
        old[part] = old.get(part, []) + [
            line for line in payload[part] if tuple(line["claim"]) not in have
        ]
    if payload["lead_priority"] > old.get("lead_priority", [0, 0]):
        for key in ("template", "step", "lead_priority", "channel"):
            if key in payload:
                old[key] = payload[key]
    explanation = dict(action.explanation)
    explanation["items"] = explanation.get("items", []) + decision.explanation.get("items", [])
    explanation.setdefault("merged_runs", []).append(decision.explanation.get("as_of"))
    action.payload = old
    action.explanation = explanation
    action.updated_at = utcnow()
