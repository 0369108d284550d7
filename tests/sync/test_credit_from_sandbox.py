"""Credit synced from the sandbox over HTTP: every open and paid invoice's balance is explained
by the mirror's payments and credit allocations (QuickBooks credit applied through payments
included), and Xero draft credit notes keep their status."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.context import JobContext
from core.db import session_scope
from core.models import CreditAllocation
from core.models import CreditNote
from core.models import Invoice
from core.models import PaymentAllocation
from core.settings import Settings
from sync.jobs import run_sync
from tests.conftest import dunwell_env
from tests.connect import connect_org
from tests.servers import provider_urls
from tests.servers import sandbox_server


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture
def ctx(sandbox, database_url, session_factory, redis, tmp_path) -> JobContext:
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **provider_urls(sandbox))
    return JobContext(Settings.from_env(env), session_factory, redis)


def unexplained(session, org_id: int) -> list[str]:
    """Invoices whose total less what the mirror says was paid or credited is not the balance."""
    applied: dict[str, Decimal] = defaultdict(Decimal)
    for model in (PaymentAllocation, CreditAllocation):
        rows = session.execute(
            select(model.invoice_external_id, model.amount).where(model.organization_id == org_id)
        )
        for invoice_id, amount in rows:
            applied[invoice_id] += amount
    invoices = session.scalars(
        select(Invoice).where(
            Invoice.organization_id == org_id, Invoice.status.in_(("open", "paid"))
        )
    )
    return [
        f"{i.external_id}: total {i.total} - applied {applied[i.external_id]} != {i.balance}"
        for i in invoices
        if i.total - applied[i.external_id] != i.balance
    ]


def test_quickbooks_credit_applied_through_payments_closes_the_invoices(ctx):
    org_id = connect_org(ctx.settings, ctx.sessions, "quickbooks")
    run_sync(ctx, org_id)
    with session_scope(ctx.sessions) as session:
        through_payments = session.execute(
            select(CreditAllocation.credit_note_id, CreditAllocation.invoice_external_id).where(
                CreditAllocation.organization_id == org_id,
                CreditAllocation.payment_external_id.is_not(None),
            )
        ).all()
        assert through_payments, "the sandbox applies credit memos through payments"
        assert all(note_id is not None for note_id, _ in through_payments)
        assert unexplained(session, org_id) == []


def test_xero_drafts_stay_drafts_and_balances_are_explained(ctx):
    org_id = connect_org(ctx.settings, ctx.sessions, "xero")
    run_sync(ctx, org_id)
    with session_scope(ctx.sessions) as session:
        notes = session.execute(
            select(CreditNote.status, CreditNote.remaining, CreditNote.total).where(
                CreditNote.organization_id == org_id
            )
        ).all()
        drafts = [(remaining, total) for status, remaining, total in notes if status == "draft"]
        assert drafts and all(remaining == 0 and total > 0 for remaining, total in drafts)
        assert {status for status, _, _ in notes} >= {"draft", "open", "paid"}
        assert unexplained(session, org_id) == []
