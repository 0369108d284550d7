"""`flask --app connector ...` commands: migrate, list organizations, sync one now."""

from __future__ import annotations

import json
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask
from flask import current_app
from sqlalchemy import select

from connector.rules_cli import rules_cli
from core.context import JobContext
from core.db import session_scope
from core.models import Organization
from sync.jobs import run_sync

ROOT = Path(__file__).resolve().parent.parent


def migrate(database_url: str) -> None:
    """Bring the database schema to the newest migration."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


def _context() -> JobContext:
    ext = current_app.extensions["dunwell"]
    return JobContext(settings=ext["settings"], sessions=ext["sessions"], redis=ext["redis"])


def init_app(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Create or upgrade the database schema."""
        migrate(_context().settings.database_url)
        click.echo("database is at the newest migration")

    @app.cli.command("orgs")
    def orgs_command() -> None:
        """List the organizations and their state."""
        with session_scope(_context().sessions) as session:
            for org in session.scalars(select(Organization).order_by(Organization.id)):
                last = org.last_synced_at.isoformat() if org.last_synced_at else "never"
                click.echo(f"{org.id}\t{org.provider}\t{org.status}\t{last}\t{org.name}")

    @app.cli.command("sync")
    @click.argument("org_id", type=int)
    def sync_command(org_id: int) -> None:
        """Sync one organization now, in this process."""
        click.echo(json.dumps(run_sync(_context(), org_id), indent=2, default=str))

    app.cli.add_command(rules_cli, "rules")
