"""the mirror's rows (customers, invoices, payments, credit notes and their allocations) name
their organization without a foreign key

The key's check, a locking read of the organization per inserted row, was half of PostgreSQL's
work to ingest a page of invoices. The sync holds the organization once per page instead
(core.models.hold_organization), and the organization's purge deletes every row naming it.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Children first: SQLite rebuilds a table to drop its key, and a parent is rebuilt after the
# tables that refer to it.
_TABLES = (
    "payment_allocation",
    "credit_allocation",
    "customer",
    "invoice",
    "payment",
    "credit_note",
)
# SQLite's foreign keys have no names; batch mode names them by this convention to drop them.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in _TABLES:
        if postgresql:
            op.drop_constraint(f"{table}_organization_id_fkey", table, type_="foreignkey")
            continue
        with op.batch_alter_table(
            table, naming_convention=_NAMING, table_kwargs=_AUTOINCREMENT
        ) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_organization_id", type_="foreignkey")


def downgrade() -> None:
    """Puts the keys back, after deleting rows whose organization is gone (what ON DELETE
    CASCADE would have done)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in _TABLES:
        op.execute(
            f"DELETE FROM {table} WHERE organization_id NOT IN (SELECT id FROM organization)"
        )
        if postgresql:
            op.create_foreign_key(
                f"{table}_organization_id_fkey",
                table,
                "organization",
                ["organization_id"],
                ["id"],
                ondelete="CASCADE",
            )
            continue
        with op.batch_alter_table(table, table_kwargs=_AUTOINCREMENT) as batch_op:
            batch_op.create_foreign_key(
                f"fk_{table}_organization_id",
                "organization",
                ["organization_id"],
                ["id"],
                ondelete="CASCADE",
            )
