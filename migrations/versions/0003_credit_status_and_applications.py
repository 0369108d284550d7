"""credit note status; credit applied through payments

Revision ID: 0003
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), nullable=False, server_default="open")
        )
    # Rows mirrored before this revision: voided ones say so, used-up ones are "paid".
    op.execute("UPDATE credit_note SET status = 'voided' WHERE voided")
    op.execute("UPDATE credit_note SET status = 'deleted' WHERE deleted AND NOT voided")
    op.execute("UPDATE credit_note SET status = 'paid' WHERE status = 'open' AND remaining <= 0")
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)

    with op.batch_alter_table("credit_allocation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_note_external_id", sa.String(length=64)))
        batch_op.add_column(sa.Column("payment_external_id", sa.String(length=64)))
        batch_op.alter_column("credit_note_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            "ix_credit_allocation_payment",
            ["organization_id", "payment_external_id"],
            unique=False,
        )


def downgrade() -> None:
    op.execute("DELETE FROM credit_allocation WHERE credit_note_id IS NULL")
    with op.batch_alter_table("credit_allocation", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_allocation_payment")
        batch_op.alter_column("credit_note_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("payment_external_id")
        batch_op.drop_column("credit_note_external_id")
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.drop_column("status")
