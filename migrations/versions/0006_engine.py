"""engine: invoice sent to the customer; when a person last changed a customer's credit hold

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.add_column(sa.Column("sent_to_customer", sa.Boolean(), nullable=True))
    with op.batch_alter_table("customer_profile") as batch:
        batch.add_column(
            sa.Column("credit_hold_changed_at", core.db.UTCDateTime(timezone=True), nullable=True)
        )
    # Holds set by hand before this column existed: the moment they were set. (A hold lifted by
    # hand before then cannot be told from a profile that never had one; a rule's hold placed
    # after it is in force either way.)
    op.execute(
        "UPDATE customer_profile SET credit_hold_changed_at = "
        "COALESCE(credit_hold_since, updated_at) "
        "WHERE credit_hold AND credit_hold_source = 'manual'"
    )


def downgrade() -> None:
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("sent_to_customer")
    with op.batch_alter_table("customer_profile") as batch:
        batch.drop_column("credit_hold_changed_at")
