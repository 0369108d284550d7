"""engine: invoice sent to the customer; when a person last changed a customer's credit hold;
when a rule set's early-payment settlement and invoice delivery were switched on

Revision ID: 0006
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0006"
down_revision: str | None = "0005"
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
    with op.batch_alter_table("rule_set") as batch:
        for name in ("early_payment_since", "invoice_delivery_since"):
            batch.add_column(sa.Column(name, core.db.UTCDateTime(timezone=True), nullable=True))
    _early_payment_since_first_activation()


def _early_payment_since_first_activation() -> None:
    """An active rule set that settles early payments has done so since it was first activated
    (invoice delivery is new: no stored rule set has it)."""
    rule_set = sa.table(
        "rule_set",
        sa.column("id", sa.Integer),
        sa.column("active_number", sa.Integer),
        sa.column("first_activated_at", core.db.UTCDateTime(timezone=True)),
        sa.column("early_payment_since", core.db.UTCDateTime(timezone=True)),
    )
    version = sa.table(
        "rule_set_version",
        sa.column("rule_set_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("document", sa.JSON),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(rule_set.c.id, rule_set.c.first_activated_at, version.c.document).join(
            version,
            sa.and_(
                version.c.rule_set_id == rule_set.c.id,
                version.c.number == rule_set.c.active_number,
            ),
        )
    ).all()
    for rule_set_id, first_activated_at, document in rows:
        early = ((document or {}).get("discounts") or {}).get("early_payment")
        if early and early.get("settle_short_payments", True):
            conn.execute(
                rule_set.update()
                .where(rule_set.c.id == rule_set_id)
                .values(early_payment_since=first_activated_at)
            )


def downgrade() -> None:
    with op.batch_alter_table("rule_set") as batch:
        batch.drop_column("invoice_delivery_since")
        batch.drop_column("early_payment_since")
    with op.batch_alter_table("invoice") as batch:
        batch.drop_column("sent_to_customer")
    with op.batch_alter_table("customer_profile") as batch:
        batch.drop_column("credit_hold_changed_at")
