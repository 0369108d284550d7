"""server-side browser sessions; ids never reused on SQLite

Adds web_session and web_session_org (see core.web_sessions). On SQLite, also rebuilds every
table whose id is a single integer with AUTOINCREMENT, so a deleted row's id (a purged
organization's, above all) is never handed out again; PostgreSQL's sequences already never go
back. The rebuild keeps every row and id, and runs with foreign keys off (migrations/env.py),
so dropping an old table cascades nowhere.

Revision ID: 0005
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "web_session_org",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("granted_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organization.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["web_session.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("session_id", "organization_id"),
    )
    with op.batch_alter_table("web_session_org", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_session_org_organization_id"), ["organization_id"], unique=False
        )
    if op.get_bind().dialect.name == "sqlite":
        for table in _tables_reusing_ids(op.get_bind()):
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass


def downgrade() -> None:
    with op.batch_alter_table("web_session_org", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_org_organization_id"))
    op.drop_table("web_session_org")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_expires_at"))
    op.drop_table("web_session")


def _tables_reusing_ids(bind: sa.Connection) -> list[str]:
    """SQLite tables with a single integer primary key and no AUTOINCREMENT."""
    rows = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version' ORDER BY name"
    ).all()
    out = []
    for name, sql in rows:
        if "AUTOINCREMENT" in sql.upper():
            continue
        info = bind.exec_driver_sql(f'PRAGMA table_info("{name}")').all()
        keys = [column for column in info if column[5]]
        if len(keys) == 1 and keys[0][2].upper() == "INTEGER":
            out.append(name)
    return out
