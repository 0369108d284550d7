"""The outbox: evaluation results become Action rows exactly once.

Order matters for exactly-once under concurrency. First every step firing is inserted with
ON CONFLICT DO NOTHING; only the firings this transaction won are acted upon (two evaluations
racing on one organization insert the same keys in the same sorted order, so the loser wins
none). Then the actions are inserted, again ignoring conflicts on their unique key
(organization, rule, step, target, period). A customer's new reminder items join a reminder
still planned for them instead of making a second message.

Status moves are explicit (TRANSITIONS) and go through `transition`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import Table
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import utcnow
from rules.decisions import REMINDER
from rules.decisions import Decision
from rules.decisions import Evaluation
from rules.models import Action
from rules.models import ActionStatus as S
from rules.models import StepFiring

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLANNED: frozenset({S.PLANNED, S.PENDING, S.CANCELLED, S.SKIPPED, S.FAILED}),
    S.PENDING: frozenset({S.SENT, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.PLANNED, S.CANCELLED}),
    S.SENT: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}


class InvalidTransition(ValueError):
    pass


def transition(action: Action, to: str, reason: str = "", now: datetime | None = None) -> None:
    """Move `action` to status `to`, or raise InvalidTransition."""
    if to not in TRANSITIONS.get(action.status, frozenset()):
        raise InvalidTransition(f"action {action.id}: {action.status} -> {to} is not allowed")
    now = now or utcnow()
    action.status = to
    action.reason = reason
    action.updated_at = now
    if to in (S.SENT, S.FAILED, S.SKIPPED, S.CANCELLED):
        action.finished_at = now


@dataclass
class Stored:
    created: list[int] = field(default_factory=list)
    merged: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    claims_won: int = 0
    claims_lost: int = 0


def store(session: Session, org_id: int, evaluation: Evaluation, version_id: int | None) -> Stored:
    """Write `evaluation` into the outbox; the caller commits."""
    result = Stored()
    won = _claim(session, org_id, evaluation, result)
    rows: list[dict[str, Any]] = []
    reminders: list[tuple[Decision, dict[str, Any]]] = []
    for decision in evaluation.decisions:
        kept = _keep(decision, won)
        if kept is None:
            continue
        if decision.kind == REMINDER:
            reminders.append((decision, kept))
        else:
            rows.append(_row(org_id, decision, kept, evaluation, version_id))
    result.created += _insert_actions(session, rows)
    targets = _merge_targets(session, [d.merge_into for d, _ in reminders if d.merge_into])
    fresh: list[tuple[Decision, dict[str, Any]]] = []
    for decision, payload in reminders:
        action = targets.get(decision.merge_into) if decision.merge_into else None
        if action is not None and action.status == S.PLANNED:
            _merge(action, decision, payload)
            result.merged.append(action.id)
        else:
            fresh.append((decision, payload))
    _store_reminders(session, org_id, fresh, evaluation, version_id, result)
    for action_id, reason in evaluation.cancellations:
        action = session.get(Action, action_id, with_for_update=True)
        if action is not None and action.status == S.PLANNED:
            transition(action, S.CANCELLED, reason)
            result.cancelled.append(action_id)
    session.flush()
    return result


def _claim(session: Session, org_id: int, evaluation: Evaluation, result: Stored) -> set[tuple]:
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
    cols = (StepFiring.rule, StepFiring.step, StepFiring.target, StepFiring.period)
    won = {tuple(r) for r in insert_ignore(session, StepFiring.__table__, rows, cols)}
    result.claims_won, result.claims_lost = len(won), len(rows) - len(won)
    return won


def _keep(decision: Decision, won: set[tuple]) -> dict[str, Any] | None:
    """The payload to store, trimmed to the firings won; None when nothing is left."""
    if not decision.firings:
        return decision.payload
    if decision.kind != REMINDER:
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
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _insert_actions(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    return [r[0] for r in insert_ignore(session, Action.__table__, rows, (Action.id,))]


def _store_reminders(
    session: Session,
    org_id: int,
    reminders: list[tuple[Decision, dict[str, Any]]],
    evaluation: Evaluation,
    version_id: int | None,
    result: Stored,
) -> None:
    """Insert new reminders; one that meets an earlier reminder of the same day (already on
    its way, so it could not absorb the items) takes the next free period, "<date>#2"..."""
    rows = [_row(org_id, d, p, evaluation, version_id) for d, p in reminders]
    cols = (Action.id, Action.target)
    inserted = {target: i for i, target in insert_ignore(session, Action.__table__, rows, cols)}
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
        for key in ("template", "step", "lead_priority"):
            old[key] = payload[key]
    explanation = dict(action.explanation)
    explanation["items"] = explanation.get("items", []) + decision.explanation.get("items", [])
    explanation.setdefault("merged_runs", []).append(decision.explanation.get("as_of"))
    action.payload = old
    action.explanation = explanation
    action.updated_at = utcnow()


def insert_ignore(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: tuple
) -> list[Any]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING for many rows; the rows actually inserted."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _pg_insert_ignore(session, table, rows, returning)
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(table).on_conflict_do_nothing().returning(*returning)
    if len(rows) == 1:
        return session.connection().execute(stmt.values(rows[0])).all()
    return session.connection().execute(stmt, rows).all()


def _pg_insert_ignore(
    session: Session, table: Table, rows: list[dict[str, Any]], returning: tuple
) -> list[Any]:
    """One statement whatever the number of rows: a column of values per array, unnested, and
    each JSON column as one JSON array, zipped back by ordinality.

    A multi-row VALUES list is a new statement text for every row count, which psycopg parses
    and PostgreSQL plans each time; this text is fixed, so both are cached.
    """
    names = list(rows[0])
    plain = [n for n in names if not isinstance(table.c[n].type, JSON)]
    documents = [n for n in names if isinstance(table.c[n].type, JSON)]
    arrays = ", ".join(f"CAST(:{n} AS {_pg_type(table.c[n].type)}[])" for n in plain)
    sources = [f"unnest({arrays}) WITH ORDINALITY AS u({', '.join(plain)}, n)"]
    sources += [
        f"JOIN jsonb_array_elements(CAST(:{n} AS jsonb)) WITH ORDINALITY AS j_{n}(v, n) "
        f"ON j_{n}.n = u.n"
        for n in documents
    ]
    picks = [f"u.{n}" if n in plain else f"j_{n}.v" for n in names]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {', '.join(picks)} "
        f"FROM {' '.join(sources)} "
        f"ON CONFLICT DO NOTHING RETURNING {', '.join(c.name for c in returning)}"
    )
    values: dict[str, Any] = {n: [row[n] for row in rows] for n in plain}
    values.update({n: json.dumps([row[n] for row in rows]) for n in documents})
    return session.connection().execute(text(sql), values).all()


@lru_cache(maxsize=64)
def _pg_type(column_type: Any) -> str:
    from sqlalchemy.dialects import postgresql

    return column_type.compile(dialect=postgresql.dialect())
