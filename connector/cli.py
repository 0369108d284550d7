"""`flask --app connector ...` commands: migrate, list organizations, sync one now, give someone a
role in an organization."""

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
from core.accounts import User
from core.context import JobContext
from core.db import session_scope
from core.models import Organization
from sync.jobs import run_sync
from team import members
from team.roles import ROLES

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

    @app.cli.command("member")
    @click.argument("org_id", type=int)
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True)
    def member_command(org_id: int, email: str, role: str) -> None:
        """Give EMAIL (a user made if new) ROLE in organization ORG_ID; they then sign in with
        Intuit or Xero (that email, verified) or an emailed one-time link."""
        add_member(_context(), org_id, email, role)
        click.echo(f"{email.strip().lower()} is now {role} of organization {org_id}")

    app.cli.add_command(rules_cli, "rules")


def add_member(ctx: JobContext, org_id: int, email: str, role: str) -> None:
    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("must be an email address", param_hint="EMAIL")
    with session_scope(ctx.sessions) as session:
        if session.get(Organization, org_id) is None:
            raise click.BadParameter(f"no organization {org_id}", param_hint="ORG_ID")
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email)
            session.add(user)
            session.flush()
        members.join(session, org_id, user.id, role)
