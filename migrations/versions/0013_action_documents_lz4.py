"""an action's payload and explanation are compressed with lz4 on PostgreSQL (where the server
has it): pglz, the default, was a tenth of the server's work to store a first run; documents
already stored stay as they are (PostgreSQL reads both)

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMPRESSION = """
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_settings
               WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        ALTER TABLE action ALTER COLUMN payload SET COMPRESSION {method},
            ALTER COLUMN explanation SET COMPRESSION {method};
    END IF;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_COMPRESSION.format(method="lz4"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_COMPRESSION.format(method="DEFAULT"))
