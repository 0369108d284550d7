"""fewer foreign-key checks per evaluation: action_event's action and organization,
step_firing's organization and action's rule-set version are no longer foreign keys

Each was a check (a locking read of the parent row) per inserted row, together two fifths of the
server's work to store a first run on PostgreSQL. The code keeps what they kept: see
outbox.models.ActionEvent and core.models.hold_organization.

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, referred table, ON DELETE)
_KEYS = (
    ("action_event", "action_id", "action", "CASCADE"),
    ("action_event", "organization_id", "organization", "CASCADE"),
    ("step_firing", "organization_id", "organization", "CASCADE"),
    ("action", "rule_version_id", "rule_set_version", "SET NULL"),
)
# SQLite's foreign keys have no names; batch mode names them by this convention to drop them.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in _tables():
        keys = [(column, referred) for t, column, referred, _ in _KEYS if t == table]
        if postgresql:
            for column, _ in keys:
                op.drop_constraint(f"{table}_{column}_fkey", table, type_="foreignkey")
            continue
        with op.batch_alter_table(
            table, naming_convention=_NAMING, table_kwargs=_AUTOINCREMENT
        ) as batch_op:
            for column, _ in keys:
                batch_op.drop_constraint(f"fk_{table}_{column}", type_="foreignkey")


def downgrade() -> None:
    """Puts the keys back; rows whose parent is gone get what the key's ON DELETE would have
    done to them first (deleted, or their reference set to NULL)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, column, referred, on_delete in _KEYS:
        orphan = f"{column} NOT IN (SELECT id FROM {referred})"
        if on_delete == "CASCADE":
            op.execute(f"DELETE FROM {table} WHERE {orphan}")
        else:
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {orphan}")
    for table in _tables():
        keys = [(c, r, d) for t, c, r, d in _KEYS if t == table]
        if postgresql:
            for column, referred, on_delete in keys:
                op.create_foreign_key(
                    f"{table}_{column}_fkey",
                    table,
                    referred,
                    [column],
                    ["id"],
                    ondelete=on_delete,
                )
            continue
        with op.batch_alter_table(table, table_kwargs=_AUTOINCREMENT) as batch_op:
            for column, referred, on_delete in keys:
                batch_op.create_foreign_key(
                    f"fk_{table}_{column}", referred, [column], ["id"], ondelete=on_delete
                )


def _tables() -> list[str]:
    return list(dict.fromkeys(table for table, *_ in _KEYS))
