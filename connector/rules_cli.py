"""`flask rules ...`: validate, import, export, preview and backtest rule sets from a terminal.

    flask rules validate --org 1 rules.json
    flask rules import   --org 1 rules.json [--activate]
    flask rules export   --org 1 [--version 3] [-o rules.json]
    flask rules preview  --org 1 [--file draft.json | --version 3] [--as-of 2025-03-10]
    flask rules backtest --org 1 [--file draft.json | --version 3] [--months 3] [--end DATE]

Output is JSON on stdout; invalid rules print each field's problem and exit with status 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from core.db import session_scope
from core.db import utcnow
from core.invalid import InputInvalid
from core.models import Organization
from rules.analysis.backtest import backtest
from rules.analysis.preview import preview
from rules.engine.timing import local_date
from rules.ruleset import store
from rules.ruleset.book import RuleBook
from rules.ruleset.schema import validate_document

# An AppGroup (a click.Group) runs each command inside the application context.
rules_cli = AppGroup("rules", help="Rule sets: validate, import, export, preview, backtest.")


@contextmanager
def _session() -> Iterator[Session]:
    with session_scope(current_app.extensions["dunwell"]["sessions"]) as session:
        yield session


def _org(session: Session, org_id: int) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise click.ClickException(f"no organization {org_id}")
    return org


def _read(path: str) -> Any:
    with click.open_file(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path} is not JSON: {exc}") from None


def _echo(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _fail(exc: InputInvalid) -> None:
    for path, message in sorted(exc.errors.items()):
        click.echo(f"{path or '(document)'}: {message}", err=True)
    raise SystemExit(1)


def _book(session: Session, org_id: int, path: str | None, number: int | None) -> RuleBook:
    if path:
        return store.draft_book(store.unwrap(_read(path)))
    if number is not None:
        return store.book_for(store.get_version(session, org_id, number))
    active = store.active_book(session, org_id)
    if active is None:
        raise click.ClickException("no active rule set: pass --file or --version")
    return active[0]


ORG = click.option("--org", "org_id", type=int, required=True, help="Organization id.")
FILE = click.option("--file", "path", type=click.Path(exists=True, dir_okay=False), default=None)
VERSION = click.option("--version", "number", type=int, default=None, help="A saved version.")


@rules_cli.command("validate")
@ORG
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def validate_command(org_id: int, path: str) -> None:
    """Check a rule set file; print the normalised document."""
    with _session() as session:
        _org(session, org_id)
    try:
        _echo(validate_document(store.unwrap(_read(path))))
    except InputInvalid as exc:
        _fail(exc)


@rules_cli.command("import")
@ORG
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--activate", is_flag=True, help="Make the imported version the active one.")
def import_command(org_id: int, path: str, activate: bool) -> None:
    """Save a rule set file (an export, or a bare document) as a new version."""
    try:
        with _session() as session:
            _org(session, org_id)
            version = store.import_document(session, org_id, _read(path), activate=activate)
            number, active = version.number, version.rule_set.active_number
    except InputInvalid as exc:
        _fail(exc)
    _echo({"version": number, "active": active})


@rules_cli.command("export")
@ORG
@VERSION
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default="-")
def export_command(org_id: int, number: int | None, output: str) -> None:
    """Write a version (the active one by default) as an export file."""
    with _session() as session:
        _org(session, org_id)
        found = (
            store.get_version(session, org_id, number)
            if number is not None
            else store.active_version(session, org_id)
        )
        if found is None:
            raise click.ClickException("no active rule set: pass --version")
        data = store.export_version(found)
    with click.open_file(output, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2) + "\n")


@rules_cli.command("preview")
@ORG
@FILE
@VERSION
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None)
def preview_command(
    org_id: int, path: str | None, number: int | None, as_of: datetime | None
) -> None:
    """What the rules would do today (or on --as-of), without writing anything."""
    try:
        with _session() as session:
            org = _org(session, org_id)
            book = _book(session, org_id, path, number)
            day = as_of.date() if as_of else None
            _echo(preview(session, org, book, utcnow(), store.rules_since(session, org), day))
    except InputInvalid as exc:
        _fail(exc)


@rules_cli.command("backtest")
@ORG
@FILE
@VERSION
@click.option("--months", type=click.IntRange(1, 36), default=3, show_default=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None)
def backtest_command(
    org_id: int, path: str | None, number: int | None, months: int, end: datetime | None
) -> None:
    """Replay the rules over the last N months of the mirror, as of each day."""
    try:
        with _session() as session:
            org = _org(session, org_id)
            book = _book(session, org_id, path, number)
            last = end.date() if end else local_date(utcnow(), org.timezone)
            _echo(backtest(session, org, book, last - timedelta(days=30 * months), last))
    except InputInvalid as exc:
        _fail(exc)
