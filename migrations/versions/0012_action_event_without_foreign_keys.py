"""action history without foreign keys: an action's events are written with it and purged with
its organization by the code (see outbox.models.ActionEvent), so the database no longer checks
the two ids on every history row (three quarters of a history row's insert on PostgreSQL)

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's foreign keys have no names; batch mode names them by this convention to drop them.
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s"}
_AUTOINCREMENT = {"sqlite_autoincrement": True}
_KEYS = (("action_id", "action"), ("organization_id", "organization"))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column, _ in _KEYS:
            op.drop_constraint(f"action_event_{column}_fkey", "action_event", type_="foreignkey")
        return
    with op.batch_alter_table(
        "action_event", naming_convention=_NAMING, table_kwargs=_AUTOINCREMENT
    ) as batch_op:
        for column, _ in _KEYS:
            batch_op.drop_constraint(f"fk_action_event_{column}", type_="foreignkey")


def downgrade() -> None:
    """Puts the keys back; history rows whose action or organization is gone are deleted first,
    as the keys' ON DELETE CASCADE would have deleted them."""
    op.execute("DELETE FROM action_event WHERE action_id NOT IN (SELECT id FROM action)")
    op.execute(
        "DELETE FROM action_event WHERE organization_id NOT IN (SELECT id FROM organization)"
    )
    if op.get_bind().dialect.name == "postgresql":
        for column, table in _KEYS:
            op.create_foreign_key(
                f"action_event_{column}_fkey",
                "action_event",
                table,
                [column],
                ["id"],
                ondelete="CASCADE",
            )
        return
    with op.batch_alter_table("action_event", table_kwargs=_AUTOINCREMENT) as batch_op:
        for column, table in _KEYS:
            batch_op.create_foreign_key(
                f"fk_action_event_{column}", table, [column], ["id"], ondelete="CASCADE"
            )
