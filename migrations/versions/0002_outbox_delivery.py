"""outbox delivery: action history, idempotency keys, leases, batches, first-run approval

Existing actions get a random idempotency key. Versions that were active before this migration
have run already: their first run counts as approved, so upgrading holds nothing back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:19:40.135116
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("action_event", schema=None) as batch_op:
        batch_op.create_index("ix_action_event_action", ["action_id"], unique=False)

    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("key", sa.String(length=40), nullable=True))
        batch_op.alter_column(
            "status",
            existing_type=sa.VARCHAR(length=12),
            type_=sa.String(length=20),
            existing_nullable=False,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE action SET key = 'dw-' || substr(md5(random()::text || id::text), 1, 24)"
        )
    else:
        op.execute("UPDATE action SET key = 'dw-' || lower(hex(randomblob(12)))")
    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_unique_constraint("uq_action_key", ["key"])

    with op.batch_alter_table("rule_set_version", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_run_approved_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE rule_set_version SET first_run_approved_at = activated_at "
        "WHERE activated_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("rule_set_version", schema=None) as batch_op:
        batch_op.drop_column("first_run_approved_at")

    with op.batch_alter_table("action", schema=None) as batch_op:
        batch_op.drop_constraint("uq_action_key", type_="unique")
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            type_=sa.VARCHAR(length=12),
            existing_nullable=False,
        )
        batch_op.drop_column("key")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("batch")

    with op.batch_alter_table("action_event", schema=None) as batch_op:
        batch_op.drop_index("ix_action_event_action")

    op.drop_table("action_event")
