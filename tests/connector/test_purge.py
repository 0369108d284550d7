"""A purge deletes every row of the organization, also from the tables whose organization_id is
not a foreign key (step_firing, action_event), and a writer holding the organization
(core.models.hold_organization) cannot leave rows behind it."""

from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound

from connector.oauth import purge_order
from core.db import session_scope
from core.db import utcnow
from core.models import hold_organization
from outbox.lifecycle import transition
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from rules.models import StepFiring
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in
from tests.connector.test_oauth import csrf


def _firing(org_id: int, target: str) -> StepFiring:
    return StepFiring(
        organization_id=org_id,
        rule="r",
        step="s",
        target=target,
        period="1",
        customer_external_id="C1",
        fired_on=date(2026, 3, 1),
    )


def _history(session_factory, org_id: int) -> None:
    """A firing and an action with two history rows."""
    with session_scope(session_factory) as db:
        now = utcnow()
        action = Action(
            organization_id=org_id, rule="r", step="s", target="I1", period="1", kind="note",
            customer_external_id="C1", decided_on=now.date(), scheduled_for=now,
        )  # fmt: skip
        db.add_all([action, _firing(org_id, "I1")])
        db.flush()
        db.add(ActionEvent(action_id=action.id, organization_id=org_id, from_status="",
                           to_status=S.PLANNED, reason="decided"))  # fmt: skip
        transition(action, S.CANCELLED, "no longer due", actor="rules")


def _rows(session_factory, org_id: int) -> dict[str, int]:
    with session_scope(session_factory) as db:
        return {
            model.__tablename__: db.scalar(
                select(func.count()).select_from(model).where(model.organization_id == org_id)
            )
            for model in (StepFiring, Action, ActionEvent)
        }


def _purge(client, org_id: int) -> int:
    return client.post(
        f"/orgs/{org_id}/purge", data={"csrf_token": csrf(client), "confirmed": "yes"}
    ).status_code


def test_a_purge_deletes_the_firings_actions_and_history_of_that_organization_only(
    client, session_factory
):
    org_id = make_org(session_factory, "xero", "Larkspur", status="disconnected")
    other = make_org(session_factory, "xero", "Cedar", status="connected")
    for org in (org_id, other):
        _history(session_factory, org)
    assert _rows(session_factory, org_id) == {"step_firing": 1, "action": 1, "action_event": 2}
    sign_in(client, org_id)
    assert _purge(client, org_id) == 302
    assert _rows(session_factory, org_id) == {"step_firing": 0, "action": 0, "action_event": 0}
    assert _rows(session_factory, other) == {"step_firing": 1, "action": 1, "action_event": 2}


def test_holding_an_organization_that_is_gone_raises(session_factory):
    with session_scope(session_factory) as db, pytest.raises(NoResultFound):
        hold_organization(db, 12345)


def test_a_purge_waits_for_a_writer_holding_the_organization_and_deletes_what_it_wrote(
    client, session_factory
):
    """Without the purge's lock first, it deleted the firings it could see, then waited only
    at the organization's own row, and the writer's firing outlived the organization."""
    org_id = make_org(session_factory, "xero", "Larkspur", status="disconnected")
    writer = session_factory()
    if writer.get_bind().dialect.name != "postgresql":
        writer.close()
        pytest.skip("SQLite writes one transaction at a time")
    sign_in(client, org_id)
    writer_pid = writer.execute(text("SELECT pg_backend_pid()")).scalar_one()
    hold_organization(writer, org_id)
    writer.add(_firing(org_id, "I1"))
    writer.flush()
    statuses: list[int] = []
    purge = threading.Thread(target=lambda: statuses.append(_purge(client, org_id)))
    purge.start()
    blocked = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    with session_scope(session_factory) as db:
        for _ in range(250):
            if db.execute(blocked, {"pid": writer_pid}).scalar_one():
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the purge never waited for the writer")
    writer.commit()
    writer.close()
    purge.join(10)
    assert statuses == [302]
    assert _rows(session_factory, org_id) == {"step_firing": 0, "action": 0, "action_event": 0}


def test_the_purge_deletes_actions_before_their_history_and_children_before_parents():
    order = [table.name for table in purge_order()]
    assert order.index("action") < order.index("action_event")
    assert order.index("payment_allocation") < order.index("payment")
    assert order.index("credit_allocation") < order.index("credit_note")
    assert "organization" not in order and "invoice" in order and "step_firing" in order
