"""Drafts: versions saved without being activated, edited in place until they are activated.

A version that was ever active never changes again (actions name the version that decided
them); a draft never decided anything, so the editor's forms save into it. Activating a draft
freezes it like any other version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from rules.models import RuleSetVersion
from rules.ruleset import store
from rules.ruleset.defaults import starter
from rules.ruleset.schema import validate_document

EMPTY_NAME = "Collection policy"


class NotADraft(ValueError):
    """The version was active once, so it is frozen."""


@dataclass(frozen=True)
class VersionRow:
    number: int
    note: str
    author: str
    created_at: Any
    activated_at: Any
    active: bool

    @property
    def draft(self) -> bool:
        return self.activated_at is None


def empty() -> dict[str, Any]:
    """A rule set with nothing in it yet: no policy, no template."""
    return validate_document({"name": EMPTY_NAME})


def versions(session: Session, org_id: int) -> list[VersionRow]:
    owner = store.rule_set(session, org_id)
    if owner is None:
        return []
    return [
        VersionRow(
            v.number,
            v.note,
            v.created_by,
            v.created_at,
            v.activated_at,
            v.number == owner.active_number,
        )
        for v in sorted(owner.versions, key=lambda v: v.number, reverse=True)
    ]


def start(
    session: Session, org_id: int, source: str, created_by: str, note: str = ""
) -> RuleSetVersion:
    """A new draft: a copy of version `source` (a number), of the starter policy, or empty."""
    if source == "starter":
        document = starter()
    elif source == "empty":
        document = empty()
    else:
        document = store.get_version(session, org_id, int(source)).document
    return store.save_version(
        session, org_id, document, activate=False, note=note, created_by=created_by
    )


def draft(session: Session, org_id: int, number: int, *, lock: bool = False) -> RuleSetVersion:
    """Draft `number`; with `lock`, its row is locked until the transaction ends, so two people
    saving the same draft at once each change the other's result, never an older copy."""
    version = store.get_version(session, org_id, number)
    if lock:
        session.refresh(version, with_for_update=True)
    if version.activated_at is not None:
        raise NotADraft(
            f"version {number} was active once, so it cannot change; start a draft from it"
        )
    return version


def save(session: Session, org_id: int, number: int, document: Any) -> RuleSetVersion:
    """Validate `document` and store it as draft `number`. Raises RuleSetInvalid, NotADraft."""
    version = draft(session, org_id, number)
    version.document = validate_document(document)
    session.flush()
    return version
