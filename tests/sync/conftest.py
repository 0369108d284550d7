"""What the sync's tests share: an organization to sync into, and its mirrored invoices."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import Invoice
from core.models import Organization


@pytest.fixture
def org_id(session_factory) -> int:
    with session_scope(session_factory) as session:
        org = Organization(provider="fake", external_id="realm-1", name="Acme")
        session.add(org)
        session.flush()
        return org.id


def mirror(session_factory, org_id: int) -> dict[str, Invoice]:
    with session_scope(session_factory) as session:
        rows = session.scalars(select(Invoice).where(Invoice.organization_id == org_id))
        return {r.external_id: r for r in rows}
