"""The write contract: every write command and every error kind a write can meet, the same from
every accounting system, over real HTTP against each provider's sandbox with a real grant.

This is what the outbox relies on: a command carried out once per idempotency key (the sandbox's
write log shows the replay), the records it changed handed back as the provider now has them (so
the echoed webhook changes nothing), and each failure raised as its own error type, driven
through the sandbox's fault switches for this organization only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import requests
from redis import Redis

from core.ratelimit import RedisLimiter
from providers.base import AddNote
from providers.base import Conflict
from providers.base import CreditNoteRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from providers.base import RateLimited
from providers.base import Rejected
from providers.base import SendInvoice
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import Unavailable
from providers.base import WriteResult
from tests.providers.contract_checks import same_id
from tests.providers.contract_support import DEAD_GRANT
from tests.providers.contract_support import PROVIDERS
from tests.providers.contract_support import Capture
from tests.providers.contract_support import Contract
from tests.providers.contract_support import Delivery
from tests.providers.contract_support import World
from tests.providers.contract_support import capture_server
from tests.providers.contract_support import connected

WRITE_PATHS = {"quickbooks": "/invoice", "xero": "/History"}


@pytest.fixture(scope="module")
def capture() -> Iterator[tuple[str, Capture]]:
    with capture_server() as pair:
        yield pair


@pytest.fixture(scope="module", params=PROVIDERS)
def world(
    request: pytest.FixtureRequest,
    capture: tuple[str, Capture],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    url, catcher = capture
    with connected(request.param, tmp_path_factory.mktemp(request.param), url, catcher) as world:
        yield world


@pytest.fixture
def contract(world: World, redis: Redis) -> Iterator[Contract]:
    world.sandbox.clear_faults()
    yield Contract(world, world.impatient_provider(RedisLimiter(redis)))
    world.sandbox.clear_faults()


def key() -> str:
    return f"contract-{uuid.uuid4().hex}"


def open_invoices(c: Contract) -> list[InvoiceRecord]:
    """Open invoices of active customers (neither provider lets new documents name an inactive
    customer)."""
    customers = [r for page in c.provider.list_changed(Entity.CUSTOMER, None) for r in page]
    active = {r.external_id for r in customers if getattr(r, "active", False)}
    records = [r for page in c.provider.list_changed(Entity.INVOICE, None) for r in page]
    return [
        r
        for r in records
        if isinstance(r, InvoiceRecord)
        and r.status is InvoiceStatus.OPEN
        and r.customer_id in active
    ]


def emailable_invoice(c: Contract) -> InvoiceRecord:
    """An open invoice whose customer has an email address, not used by an earlier test."""
    customers = [r for page in c.provider.list_changed(Entity.CUSTOMER, None) for r in page]
    with_email = {r.external_id for r in customers if getattr(r, "email", None)}
    used = {e["path"] for e in c.sandbox.writes()}
    for invoice in open_invoices(c):
        fresh = not any(invoice.external_id.lower() in path.lower() for path in used)
        if invoice.customer_id in with_email and fresh:
            return invoice
    raise AssertionError(f"{c.name}: no open invoice of a customer with an email left")


def invoice_record(result: WriteResult, invoice_id: str) -> InvoiceRecord:
    found = [r for r in result.records if isinstance(r, InvoiceRecord)]
    found = [r for r in found if same_id(r.external_id, invoice_id)]
    assert len(found) == 1, result
    return found[0]


def webhook_names(c: Contract, invoice_id: str) -> Delivery:
    tenant = c.tenant.external_id

    def names(delivery: Delivery) -> bool:
        return delivery.path.endswith(f"/{c.name}") and any(
            n.entity is Entity.INVOICE
            and same_id(n.external_id, invoice_id)
            and same_id(n.tenant_external_id, tenant)
            for n in c.world.cls.parse_webhook(delivery.body)
        )

    assert c.world.capture is not None
    return c.world.capture.wait_for(names)


def credit_applied(result: WriteResult, invoice_id: str) -> list[Decimal]:
    """Credit the result says went to the invoice: on the credit note (Xero) or on the payment
    that applied it (QuickBooks)."""
    amounts = []
    for record in result.records:
        if isinstance(record, CreditNoteRecord):
            amounts += [a.amount for a in record.allocations if same_id(a.invoice_id, invoice_id)]
        if isinstance(record, PaymentRecord):
            amounts += [a.amount for a in record.credits if same_id(a.invoice_id, invoice_id)]
    return amounts


# ---------------------------------------------------------------- commands


def test_send_invoice_sends_once_per_key_and_returns_the_current_invoice(
    contract: Contract,
) -> None:
    c = contract
    invoice = emailable_invoice(c)
    command = SendInvoice(invoice.external_id)
    same_key = key()

    first = c.provider.write(command, idempotency_key=same_key)
    again = c.provider.write(command, idempotency_key=same_key)

    sent = [i for i in c.sandbox.emailed_invoices() if i == invoice.external_id.lower()]
    assert len(sent) == 1, "the replayed key sent no second email"
    record = invoice_record(first, invoice.external_id)
    assert invoice_record(again, invoice.external_id).version == record.version
    webhook_names(c, invoice.external_id)
    current = c.provider.get(Entity.INVOICE, invoice.external_id)
    assert current is not None and current.version == record.version, "the echo changes nothing"
    sends = [w for w in c.sandbox.writes() if w["path"].lower().endswith(("/send", "/email"))]
    sends = [w for w in sends if invoice.external_id.lower() in w["path"].lower()]
    assert [(w["replay"], bool(w["applied"])) for w in sends] == [(False, True), (True, False)]


def test_send_invoice_of_a_draft_is_rejected_with_the_providers_message(contract: Contract) -> None:
    c = contract
    draft = c.sandbox.draft_invoice_id(c.provider)
    if draft is None:
        pytest.skip(f"{c.name} has no draft invoices")
    with pytest.raises(Rejected) as raised:
        c.provider.write(SendInvoice(draft), idempotency_key=key())
    assert "can be emailed" in raised.value.message and "DRAFT" in raised.value.message


def test_invoice_links_lead_to_the_pay_online_page_and_fill_the_mirror(contract: Contract) -> None:
    c = contract
    invoices = open_invoices(c)[:3]
    draft = c.sandbox.draft_invoice_id(c.provider)
    ids = [i.external_id for i in invoices] + ([draft] if draft else [])
    links = c.provider.invoice_links(ids)
    assert set(links) == {i.external_id for i in invoices}
    for invoice in invoices:
        page = requests.get(links[invoice.external_id], timeout=10)
        assert page.status_code == 200 and (invoice.number or "") in page.text
        if c.name == "quickbooks":  # the sync reads InvoiceLink, so the mirror has it
            assert invoice.link == links[invoice.external_id]


def test_settle_discount_credits_the_invoice_once_per_key(contract: Contract) -> None:
    c = contract
    invoice = next(i for i in open_invoices(c) if i.balance >= Decimal("5"))
    amount = Decimal("1.25")
    command = SettleDiscount(
        invoice.external_id, invoice.customer_id, amount, invoice.currency, date.today()
    )
    same_key = key()

    result = c.provider.write(command, idempotency_key=same_key)
    c.provider.write(command, idempotency_key=same_key)

    assert invoice_record(result, invoice.external_id).balance == invoice.balance - amount
    assert credit_applied(result, invoice.external_id) == [amount]
    after = c.provider.get(Entity.INVOICE, invoice.external_id)
    assert isinstance(after, InvoiceRecord) and after.balance == invoice.balance - amount
    notes = [r for page in c.provider.list_changed(Entity.CREDIT_NOTE, None) for r in page]
    created = [r for r in notes if r.total == amount and r.customer_id == invoice.customer_id]
    assert len(created) == 1, "the replayed key created no second credit note"


def test_note_and_hold_writes_are_logged_with_what_they_applied(contract: Contract) -> None:
    c = contract
    invoice = open_invoices(c)[0]
    text = f"Left a voicemail ({uuid.uuid4().hex[:8]})"
    c.provider.write(AddNote(Entity.INVOICE, invoice.external_id, text), idempotency_key=key())
    c.provider.write(
        SetCreditHold(invoice.customer_id, True, "60 days over"), idempotency_key=key()
    )
    applied = [line for w in c.sandbox.writes() for line in w["applied"]]
    assert any(text in line or "PrivateNote" in line for line in applied)
    assert any("Notes" in line or "contact group" in line for line in applied)


# ---------------------------------------------------------------- errors


def note_command(c: Contract) -> AddNote:
    return AddNote(Entity.INVOICE, open_invoices(c)[0].external_id, f"n {uuid.uuid4().hex[:6]}")


def test_a_rejected_write_carries_the_providers_message_and_is_not_retried(
    contract: Contract,
) -> None:
    c = contract
    command = note_command(c)
    c.sandbox.arm("reject", tenant=c.tenant.external_id, message="Customer record is locked")
    seen = len(c.sandbox.writes())
    with pytest.raises(Rejected) as raised:
        c.provider.write(command, idempotency_key=key())
    assert "Customer record is locked" in raised.value.message
    refused = [w for w in c.sandbox.writes()[seen:] if w["status"] == 400]
    assert len(refused) == 1, "a rejection is not retried"
    assert c.provider.write(command, idempotency_key=key()).records


def test_a_fault_for_another_organization_leaves_this_one_alone(contract: Contract) -> None:
    c = contract
    c.sandbox.arm("reject", count=5, tenant="someone-else")
    assert c.provider.write(note_command(c), idempotency_key=key()).records


def test_a_stale_synctoken_is_a_conflict(contract: Contract) -> None:
    c = contract
    if c.name == "xero":
        pytest.skip("Xero has no SyncToken: last write wins")
    command = note_command(c)
    c.sandbox.arm("stale", tenant=c.tenant.external_id, paths=[WRITE_PATHS[c.name]])
    with pytest.raises(Conflict):
        c.provider.write(command, idempotency_key=key())
    assert c.provider.write(command, idempotency_key=key()).records


def test_a_long_rate_limit_on_writes_is_rate_limited_with_its_retry_after(
    contract: Contract,
) -> None:
    c = contract
    command = note_command(c)
    spec: dict[str, Any] = {"tenant": c.tenant.external_id, "retry_after": 120}
    c.sandbox.arm("rate_limit", count=5, paths=[WRITE_PATHS[c.name]], **spec)
    started = time.monotonic()
    with pytest.raises(RateLimited) as raised:
        c.provider.write(command, idempotency_key=key())
    assert raised.value.retry_after == 120 and time.monotonic() - started < 5


def test_a_short_rate_limit_is_waited_out_and_the_write_lands_once(contract: Contract) -> None:
    c = contract
    command = note_command(c)
    c.sandbox.arm("rate_limit", tenant=c.tenant.external_id, retry_after=1, methods=["POST", "PUT"])
    result = c.provider.write(command, idempotency_key=key())
    assert result.records
    statuses = [w["status"] for w in c.sandbox.writes()][-2:]
    assert statuses == [429, 200]


def test_an_outage_on_writes_is_unavailable(contract: Contract) -> None:
    c = contract
    command = note_command(c)
    c.sandbox.arm("server_error", count=10, tenant=c.tenant.external_id, methods=["POST", "PUT"])
    with pytest.raises(Unavailable):
        c.provider.write(command, idempotency_key=key())


def test_a_revoked_grant_stops_the_write(contract: Contract) -> None:
    c = contract
    command = note_command(c)
    c.sandbox.arm("revoke", tenant=c.tenant.external_id)
    with pytest.raises(DEAD_GRANT):
        c.provider.write(command, idempotency_key=key())
    c.sandbox.clear_faults()
    assert c.provider.write(command, idempotency_key=key()).records
