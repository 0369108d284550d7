"""An in-memory provider for engine tests: the Provider protocol over plain lists."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import ClassVar

from providers.base import AnyRecord
from providers.base import Entity


class Crash(Exception):
    """Raised by FakeProvider to simulate a worker dying mid-listing."""


class FakeProvider:
    name: ClassVar[str] = "fake"
    change_window: ClassVar[timedelta | None] = None

    def __init__(self, page_size: int = 3, window: timedelta | None = None):
        self.records: dict[Entity, dict[str, AnyRecord]] = {e: {} for e in Entity}
        self.page_size = page_size
        self.change_window = window
        self.crash_after_pages: int | None = None
        self.calls: list[tuple[Entity, datetime | None]] = []

    def put(self, *records: AnyRecord) -> None:
        for record in records:
            self.records[record.entity][record.external_id] = record

    def drop(self, entity: Entity, external_id: str) -> None:
        del self.records[entity][external_id]

    def touch(self, entity: Entity, external_id: str, at: datetime, **changes: object) -> None:
        record = self.records[entity][external_id]
        self.put(replace(record, updated_at=at, version=str(int(record.version) + 1), **changes))

    def list_changed(self, entity: Entity, since: datetime | None) -> Iterator[list[AnyRecord]]:
        self.calls.append((entity, since))
        rows = sorted(self.records[entity].values(), key=lambda r: (r.updated_at, r.external_id))
        if since is not None:
            rows = [r for r in rows if r.updated_at >= since]
        for number, start in enumerate(range(0, len(rows), self.page_size)):
            if self.crash_after_pages is not None and number >= self.crash_after_pages:
                raise Crash(f"crashed before page {number}")
            yield rows[start : start + self.page_size]
