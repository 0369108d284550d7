"""app pages: tasks, a customer's owner, each invoice's exchange rate to the home currency

Revision ID: 0011
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.Column("customer_external_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_external_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=300), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["action.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id", name="uq_task_action"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_task_org_status_due", "task", ["organization_id", "status", "due_on"])
    op.create_index("ix_task_org_owner", "task", ["organization_id", "owner"])
    with op.batch_alter_table("customer_profile") as batch:
        batch.add_column(
            sa.Column("owner", sa.String(length=300), nullable=False, server_default="")
        )
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("home_rate", core.db.Rate(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("home_rate")
    with op.batch_alter_table("customer_profile") as batch:
        batch.drop_column("owner")
    op.drop_index("ix_task_org_owner", table_name="task")
    op.drop_index("ix_task_org_status_due", table_name="task")
    op.drop_table("task")
