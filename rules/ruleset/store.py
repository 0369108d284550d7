"""Rule sets in the database: save a new version, activate one, import and export.

Saving always creates a new numbered version (never edits one), so every action can name the
version that decided it. Import accepts an export envelope or a bare document; export then
import then export gives the same document.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from functools import cache
from functools import lru_cache
from typing import Any

from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organization
from rules.engine.timing import local_date
from rules.load.reads import Reads
from rules.models import RuleSet
from rules.models import RuleSetVersion
from rules.ruleset.book import RuleBook
from rules.ruleset.book import compile_book
from rules.ruleset.features import COLUMNS
from rules.ruleset.features import features_on
from rules.ruleset.schema import FORMAT
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document


class NoSuchVersion(LookupError):
    pass


def rule_set(session: Session, org_id: int) -> RuleSet | None:
    return session.scalar(select(RuleSet).where(RuleSet.organization_id == org_id))


def _ensure_rule_set(session: Session, org_id: int, name: str) -> RuleSet:
    found = rule_set(session, org_id)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = RuleSet(organization_id=org_id, name=name)
            session.add(found)
    except IntegrityError:
        found = rule_set(session, org_id)
    assert found is not None
    return found


def save_version(
    session: Session,
    org_id: int,
    document: Any,
    *,
    activate: bool = False,
    note: str = "",
    created_by: str = "",
) -> RuleSetVersion:
    """Validate `document` and store it as the next version. Raises RuleSetInvalid."""
    normalised = validate_document(document)
    owner = _ensure_rule_set(session, org_id, normalised["name"])
    number = (
        session.scalar(
            select(func.max(RuleSetVersion.number)).where(RuleSetVersion.rule_set_id == owner.id)
        )
        or 0
    ) + 1
    version = RuleSetVersion(
        rule_set_id=owner.id,
        organization_id=org_id,
        number=number,
        document=normalised,
        note=note,
        created_by=created_by,
    )
    session.add(version)
    session.flush()
    if activate:
        activate_version(session, org_id, number)
    return version


def activate_version(session: Session, org_id: int, number: int) -> RuleSetVersion:
    """Make version `number` the one the evaluator uses; a feature it switches on starts now
    (record_activation)."""
    version = get_version(session, org_id, number)
    owner = version.rule_set
    now = utcnow()
    before = None
    if owner.active_number is not None:
        before = book_for(get_version(session, org_id, owner.active_number))
    record_activation(owner, before, book_for(version), now)
    owner.active_number = number
    owner.name = version.document.get("name", owner.name)
    owner.first_activated_at = owner.first_activated_at or now
    version.activated_at = version.activated_at or now
    session.flush()
    return version


def record_activation(
    owner: RuleSet, before: RuleBook | None, after: RuleBook, now: datetime
) -> None:
    """Activating `after` in place of `before`: a feature (rules.ruleset.features) switched on
    starts now; one switched off is forgotten; one kept keeps its start."""
    was = features_on(before) if before is not None else set()
    now_on = features_on(after)
    for feature, column in COLUMNS.items():
        if feature not in now_on:
            setattr(owner, column, None)
        elif feature not in was or getattr(owner, column) is None:
            setattr(owner, column, now)


def rules_since(session: Session, org: Organization) -> date | None:
    """The organization's local date its rules were first switched on (None: never). Nothing
    before it is decided from history; every caller asks here."""
    owner = rule_set(session, org.id)
    return since_activation(org.timezone, owner.first_activated_at if owner is not None else None)


def since_activation(timezone: str | None, first_activated_at: datetime | None) -> date | None:
    """`rules_since` from the rule set's first activation instant, already read."""
    if first_activated_at is None:
        return None
    return local_date(first_activated_at, timezone)


def get_version(session: Session, org_id: int, number: int) -> RuleSetVersion:
    version = session.scalar(
        select(RuleSetVersion).where(
            RuleSetVersion.organization_id == org_id, RuleSetVersion.number == number
        )
    )
    if version is None:
        raise NoSuchVersion(f"rule set version {number} does not exist")
    return version


def active_version(session: Session, org_id: int) -> RuleSetVersion | None:
    owner = rule_set(session, org_id)
    if owner is None or owner.active_number is None:
        return None
    return get_version(session, org_id, owner.active_number)


def book_for(version: RuleSetVersion) -> RuleBook:
    """The compiled rule book of `version`, cached by its document (a version's document
    never changes)."""
    return _compiled(version.id, version.number, _freeze(version.document))


def active_book(session: Session, org_id: int) -> tuple[RuleBook, datetime | None] | None:
    """The active rule book and the instant rules were first activated, or None.

    Versions never change, so a worker that has compiled this one already does not read its
    document again.
    """
    row = session.execute(
        select(
            RuleSetVersion.id,
            RuleSetVersion.number,
            RuleSetVersion.created_at,
            RuleSet.first_activated_at,
        )
        .join(RuleSet, RuleSet.id == RuleSetVersion.rule_set_id)
        .where(RuleSet.organization_id == org_id, RuleSetVersion.number == RuleSet.active_number)
    ).first()
    if row is None:
        return None
    version_id, number, created_at, first_activated = row
    return _compiled_once(session, version_id, number, created_at), first_activated


@dataclass(frozen=True, slots=True)
class OrgRun:
    """What an evaluation reads first: the organization's columns the loader needs
    (rules.load.OrgLike), its status, and its active version, from one query."""

    id: int
    name: str
    timezone: str
    currency: str | None
    status: str
    last_synced_at: datetime | None
    version: tuple[int, int, datetime] | None  # id, number, created_at: None if no active one
    first_activated_at: datetime | None
    feature_starts: dict[str, datetime | None]  # RuleSet.<feature>_since, by feature

    def book(self, session: Session) -> RuleBook | None:
        """The active version's compiled book (its document read only the first time)."""
        return None if self.version is None else _compiled_once(session, *self.version)


def org_run(session: Session, org_id: int) -> OrgRun | None:
    """The organization `org_id` and its active version (None: no such organization)."""
    reads = Reads(session.connection())
    reads.add(org_run_statement(), {"org": org_id})
    (rows,) = reads.run()
    if not rows:
        return None
    row = rows[0]
    oid, name, tz, currency, status, synced, vid, number, created, first, *starts = row
    return OrgRun(
        id=oid,
        name=name,
        timezone=tz,
        currency=currency,
        status=status,
        last_synced_at=synced,
        version=None if vid is None else (vid, number, created),
        first_activated_at=first,
        feature_starts=dict(zip(COLUMNS, starts, strict=True)),
    )


@cache
def org_run_statement() -> Select[*tuple[Any, ...]]:
    o = Organization
    active = and_(
        RuleSetVersion.rule_set_id == RuleSet.id, RuleSetVersion.number == RuleSet.active_number
    )
    return (
        select(
            o.id,
            o.name,
            o.timezone,
            o.currency,
            o.status,
            o.last_synced_at,
            RuleSetVersion.id,
            RuleSetVersion.number,
            RuleSetVersion.created_at,
            RuleSet.first_activated_at,
            *(getattr(RuleSet, column) for column in COLUMNS.values()),
        )
        .outerjoin(RuleSet, RuleSet.organization_id == o.id)
        .outerjoin(RuleSetVersion, active)
        .where(o.id == bindparam("org"))
    )


def book_of_version(session: Session, version_id: int) -> tuple[RuleBook, datetime | None] | None:
    """The compiled book of version `version_id`, read whole only the first time this process
    sees it, and the instant its rule set was first activated (None: no such version)."""
    row = session.execute(
        select(RuleSetVersion.number, RuleSetVersion.created_at, RuleSet.first_activated_at)
        .join(RuleSet, RuleSet.id == RuleSetVersion.rule_set_id)
        .where(RuleSetVersion.id == version_id)
    ).first()
    if row is None:
        return None
    number, created_at, first_activated = row
    return _compiled_once(session, version_id, number, created_at), first_activated


def _compiled_once(session: Session, version_id: int, number: int, created_at: Any) -> RuleBook:
    key = (version_id, number, created_at)
    book = _by_version.get(key)
    if book is None:
        book = book_for(session.get_one(RuleSetVersion, version_id))
        if len(_by_version) > 1024:
            _by_version.clear()
        _by_version[key] = book
    return book


# Compiled books of versions seen by this process, keyed by (id, number, created_at).
_by_version: dict[tuple[Any, ...], RuleBook] = {}


def draft_book(document: Any) -> RuleBook:
    """A rule book for an unsaved document (preview or backtest of a draft)."""
    return compile_book(validate_document(document))


def export_version(version: RuleSetVersion) -> dict[str, Any]:
    """The version as a file `import_document` takes back."""
    return {
        "format": FORMAT,
        "name": version.document.get("name", ""),
        "version": version.number,
        "rules": version.document,
    }


def unwrap(data: Any) -> Any:
    """The document inside an export envelope (or `data` itself if it is a bare document)."""
    if isinstance(data, dict) and "format" in data:
        if data["format"] != FORMAT:
            raise RuleSetInvalid({"format": f"must be '{FORMAT}', not '{data['format']}'"})
        if "rules" not in data:
            raise RuleSetInvalid({"rules": "is required in an export file"})
        return data["rules"]
    return data


def import_document(
    session: Session, org_id: int, data: Any, *, activate: bool = False, created_by: str = ""
) -> RuleSetVersion:
    return save_version(
        session, org_id, unwrap(data), activate=activate, note="imported", created_by=created_by
    )


# Compiling validates the document (templates included), which is the slow part. Versions never
# change and most organizations share a document, so compile each distinct document once per
# process and stamp the version on a copy.
@lru_cache(maxsize=256)
def _compiled_document(frozen: str) -> RuleBook:
    return compile_book(json.loads(frozen))


def _compiled(version_id: int, number: int, frozen: str) -> RuleBook:
    return dataclasses.replace(_compiled_document(frozen), version_id=version_id, version=number)


def _freeze(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)
