"""Migration 0006 carries existing rows over: a hold set by hand stays a person's decision, and
a rule set that settles early payments keeps the start it had."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from connector.cli import ROOT
from core.db import make_engine

FIRST = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
SET_BY_HAND = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)


def _upgrade(url: str, revision: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


def _rows_before(conn: sa.Connection) -> None:
    for org_id in (1, 2):
        conn.execute(
            sa.text(
                "INSERT INTO organization (id, provider, external_id, name, timezone, status, "
                "status_detail, last_sync_error, created_at) VALUES (:id, 'quickbooks', :ext, "
                "'Org', 'UTC', 'connected', '', '', :at)"
            ),
            {"id": org_id, "ext": f"realm-{org_id}", "at": FIRST},
        )
        conn.execute(
            sa.text(
                "INSERT INTO rule_set (id, organization_id, name, active_number, "
                "first_activated_at, created_at, updated_at) VALUES (:id, :id, 'R', 1, :at, "
                ":at, :at)"
            ),
            {"id": org_id, "at": FIRST},
        )
        early = {"percent": "2", "days": 10} if org_id == 1 else None
        document = {"name": "R", "discounts": {"early_payment": early}}
        conn.execute(
            sa.text(
                "INSERT INTO rule_set_version (rule_set_id, organization_id, number, document, "
                "note, created_by, created_at) VALUES (:id, :id, 1, :doc, '', '', :at)"
            ),
            {"id": org_id, "doc": json.dumps(document), "at": FIRST},
        )
    conn.execute(
        sa.text(
            "INSERT INTO customer_profile (organization_id, customer_external_id, tags, "
            "do_not_contact, do_not_contact_reason, credit_hold, credit_hold_since, "
            "credit_hold_reason, credit_hold_source, updated_at) VALUES "
            "(1, 'C1', '[]', false, '', true, :since, '', 'manual', :later), "
            "(1, 'C2', '[]', false, '', false, NULL, '', 'manual', :later)"
        ),
        {"since": SET_BY_HAND, "later": FIRST},
    )


def test_existing_rows_are_carried_over(empty_database_url) -> None:
    _upgrade(empty_database_url, "0001")
    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        _rows_before(conn)
    _upgrade(empty_database_url, "0006")
    with engine.connect() as conn:
        since = conn.execute(
            sa.text("SELECT id, early_payment_since, invoice_delivery_since FROM rule_set")
        ).all()
        changed = conn.execute(
            sa.text(
                "SELECT customer_external_id, credit_hold_changed_at FROM customer_profile "
                "ORDER BY customer_external_id"
            )
        ).all()
    engine.dispose()
    assert {r[0]: (_instant(r[1]), r[2]) for r in since} == {1: (FIRST, None), 2: (None, None)}
    assert [(c, _instant(at)) for c, at in changed] == [("C1", SET_BY_HAND), ("C2", None)]


def _instant(value):
    """Raw SQL reads the stored value: a datetime (PostgreSQL) or ISO text (SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
