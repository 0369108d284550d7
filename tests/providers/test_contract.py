"""The provider contract: the same behaviour from every accounting system, checked against each
provider's sandbox over real HTTP with a real OAuth grant.

A new provider is added to `providers.PROVIDERS` and to `contract_support` (how its sandbox's
control API names things) and must pass this module unchanged.

One sandbox per provider serves the whole module (module-scoped `world`); every test builds its
own provider object, picks its own invoices and leaves no fault armed, so tests do not depend on
their order. The disconnect test revokes a grant and therefore runs on a sandbox of its own.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import ROUND_DOWN
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from redis import Redis

from core.ratelimit import RedisLimiter
from providers.base import AddNote
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import NoLimiter
from providers.base import PaymentRecord
from providers.base import Reauthorize
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import WriteResult
from tests.providers.contract_checks import all_records
from tests.providers.contract_checks import out_of_order
from tests.providers.contract_checks import record_problems
from tests.providers.contract_checks import same_id
from tests.providers.contract_support import DEAD_GRANT
from tests.providers.contract_support import PROVIDERS
from tests.providers.contract_support import Capture
from tests.providers.contract_support import Contract
from tests.providers.contract_support import Delivery
from tests.providers.contract_support import StuckCredentials
from tests.providers.contract_support import World
from tests.providers.contract_support import capture_server
from tests.providers.contract_support import connected

OVERLAP = timedelta(seconds=5)
CENT = Decimal("0.01")


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
    folder = tmp_path_factory.mktemp(request.param)
    with connected(request.param, folder, url, catcher) as world:
        yield world


@pytest.fixture
def contract(world: World, redis: Redis) -> Iterator[Contract]:
    world.sandbox.clear_faults()
    yield Contract(world, world.provider(RedisLimiter(redis)))
    world.sandbox.clear_faults()


# ---------------------------------------------------------------- helpers


def listed(c: Contract, entity: Entity, since: datetime | None = None) -> list[Any]:
    """Every record of a listing, each checked against the record contract."""
    records, problems = all_records(c.provider.list_changed(entity, since))
    problems += [p for record in records for p in record_problems(entity, record)]
    assert problems == []
    return records


def find(records: list[InvoiceRecord], invoice_id: str) -> InvoiceRecord:
    found = [r for r in records if same_id(r.external_id, invoice_id)]
    assert len(found) == 1, f"invoice {invoice_id} listed {len(found)} times"
    return found[0]


def open_invoice(c: Contract, min_balance: Decimal = CENT) -> dict:
    """An open invoice from the sandbox's own list (oldest first); tests pay different ones."""
    for row in c.sandbox.open_invoices():
        if Decimal(row["balance"]) >= min_balance:
            return row
    raise AssertionError(f"{c.name}: no open invoice of at least {min_balance} left")


def allocations_to(records: list[PaymentRecord], invoice_id: str) -> list[Decimal]:
    return sorted(
        a.amount
        for record in records
        for a in record.allocations
        if same_id(a.invoice_id, invoice_id)
    )


def key() -> str:
    return f"contract-{uuid.uuid4().hex}"


# ---------------------------------------------------------------- 1. connecting


def test_oauth_spec_and_identified_tenants(contract: Contract) -> None:
    spec = contract.world.cls.oauth(contract.world.config)
    for url in (spec.authorize_url, spec.token_url, spec.revoke_url):
        assert url.startswith(("http://", "https://")), url
    assert spec.scopes and all(isinstance(s, str) and s for s in spec.scopes)

    tenants = contract.world.cls.identify(
        contract.world.config, contract.credentials, contract.world.callback_args
    )
    assert tenants
    assert [t.external_id for t in tenants] == [t.external_id for t in contract.world.tenants]
    for tenant in tenants:
        assert tenant.external_id and tenant.name
        assert tenant.currency and len(tenant.currency) == 3 and tenant.currency.isupper()
        if tenant.timezone is not None:
            ZoneInfo(tenant.timezone)


# ---------------------------------------------------------------- 2. full listings


@pytest.mark.parametrize("entity", list(Entity))
def test_full_listing_is_well_formed(contract: Contract, entity: Entity) -> None:
    records, problems = all_records(contract.provider.list_changed(entity, None))
    assert records, f"the small sandbox has {entity} records"
    problems += out_of_order(records)
    problems += [p for record in records for p in record_problems(entity, record)]
    assert problems == []
    ids = [r.external_id for r in records]
    assert len(ids) == len(set(ids)), "a full listing names each record once"


def test_invoice_states_and_open_balances_match_the_books(contract: Contract) -> None:
    records = listed(contract, Entity.INVOICE)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        assert isinstance(record.status, InvoiceStatus)
        if record.status is InvoiceStatus.OPEN:
            assert Decimal(0) < record.balance <= record.total, record
            totals[record.currency] += record.balance
        if record.status is InvoiceStatus.VOIDED:
            assert record.balance == 0, record
        if record.status is InvoiceStatus.PAID:
            assert record.balance == 0, record
    assert dict(totals) == contract.sandbox.open_totals()


# ---------------------------------------------------------------- 3. incremental listings


def test_changes_since_show_a_partial_then_a_full_payment(contract: Contract) -> None:
    row = open_invoice(contract, min_balance=Decimal("0.02"))
    invoice_id, balance = row["id"], Decimal(row["balance"])
    part = (balance / 2).quantize(CENT, rounding=ROUND_DOWN)
    since = datetime.now(UTC)

    contract.sandbox.pay(invoice_id, part)
    changed = listed(contract, Entity.INVOICE, since - OVERLAP)
    assert out_of_order(changed) == []
    assert all(r.updated_at >= since - OVERLAP - timedelta(seconds=1) for r in changed)
    partly = find(changed, invoice_id)
    assert (partly.status, partly.balance) == (InvoiceStatus.OPEN, balance - part)

    contract.sandbox.pay(invoice_id, balance - part)
    paid = find(listed(contract, Entity.INVOICE, since - OVERLAP), invoice_id)
    assert (paid.status, paid.balance) == (InvoiceStatus.PAID, Decimal(0))
    assert paid.updated_at >= partly.updated_at
    assert allocations_to(listed(contract, Entity.PAYMENT, since - OVERLAP), invoice_id) == sorted(
        [part, balance - part]
    )


# ---------------------------------------------------------------- 4. reads by id


def test_get_matches_the_listing(contract: Contract) -> None:
    records = listed(contract, Entity.INVOICE)
    picks = {r.status: r for r in records}  # one invoice of every status the books have
    for record in picks.values():
        got = contract.provider.get(Entity.INVOICE, record.external_id)
        assert isinstance(got, InvoiceRecord)
        assert same_id(got.external_id, record.external_id)
        assert (got.version, got.updated_at, got.balance, got.total, got.status) == (
            record.version,
            record.updated_at,
            record.balance,
            record.total,
            record.status,
        )
        # Reads by id may carry extras a listing lacks (QuickBooks' payment link) and nothing
        # else may differ.
        assert replace(got, link=record.link) == record


def test_get_of_an_unknown_id_is_none(contract: Contract) -> None:
    unknown = contract.sandbox.flavour.unknown_id
    assert contract.provider.get(Entity.INVOICE, unknown) is None


# ---------------------------------------------------------------- 5. webhooks


def test_webhook_for_a_payment_is_verified_and_parsed(contract: Contract) -> None:
    row = open_invoice(contract)
    contract.sandbox.pay(row["id"], Decimal(row["balance"]))
    cls, secret = contract.world.cls, contract.world.config.webhook_key
    tenant = contract.tenant.external_id

    def names_invoice(delivery: Delivery) -> bool:
        if not delivery.path.endswith(f"/{contract.name}"):
            return False
        return any(
            n.entity is Entity.INVOICE
            and same_id(n.external_id, row["id"])
            and same_id(n.tenant_external_id, tenant)
            for n in cls.parse_webhook(delivery.body)
        )

    assert contract.world.capture is not None
    delivery = contract.world.capture.wait_for(names_invoice)
    assert cls.verify_webhook(delivery.headers, delivery.body, secret) is True
    assert cls.verify_webhook(delivery.headers, delivery.body, secret + "-wrong") is False
    tampered = delivery.body.replace(row["id"].encode(), row["id"].encode() + b"0", 1)
    assert tampered != delivery.body
    assert cls.verify_webhook(delivery.headers, tampered, secret) is False
    assert cls.verify_webhook({}, delivery.body, secret) is False

    notices = cls.parse_webhook(delivery.body)
    assert all(n.dedupe_key for n in notices)
    assert len({n.dedupe_key for n in notices}) == len(notices)
    assert [n.dedupe_key for n in cls.parse_webhook(delivery.body)] == [
        n.dedupe_key for n in notices
    ]


# ---------------------------------------------------------------- 6. tokens


def test_an_expired_access_token_is_refreshed_once(contract: Contract) -> None:
    invoice_id = open_invoice(contract)["id"]
    before = contract.credentials.refreshes
    assert contract.sandbox.expire_tokens() >= 1
    assert contract.provider.get(Entity.INVOICE, invoice_id) is not None
    assert contract.credentials.refreshes == before + 1
    assert contract.provider.get(Entity.INVOICE, invoice_id) is not None
    assert contract.credentials.refreshes == before + 1


# ---------------------------------------------------------------- 7. faults


@pytest.mark.parametrize(("kind", "status"), [("rate_limit", 429), ("server_error", 503)])
def test_a_transient_fault_is_retried(contract: Contract, kind: str, status: int) -> None:
    invoice_id = open_invoice(contract)["id"]
    contract.sandbox.clear_requests()
    contract.sandbox.arm(kind)
    started = time.monotonic()
    assert contract.provider.get(Entity.INVOICE, invoice_id) is not None
    elapsed = time.monotonic() - started
    assert contract.sandbox.statuses()[:2] == [status, 200]
    assert elapsed < 5, f"{kind} retry took {elapsed:.1f}s"


def test_a_revoked_grant_is_reported_dead(contract: Contract) -> None:
    invoice_id = open_invoice(contract)["id"]
    before = contract.credentials.refreshes
    contract.sandbox.arm("revoke")
    with pytest.raises(DEAD_GRANT):
        contract.provider.get(Entity.INVOICE, invoice_id)
    assert contract.credentials.refreshes == before + 1, "one refresh attempt, no more"
    contract.sandbox.clear_faults()
    assert contract.provider.get(Entity.INVOICE, invoice_id) is not None


def test_a_token_refused_after_its_refresh_is_reauthorize(contract: Contract) -> None:
    """No retry loop: one refresh, then Reauthorize when the new token is refused too."""
    invoice_id = open_invoice(contract)["id"]
    stuck = StuckCredentials(contract.credentials.access_token())
    world = contract.world
    provider = world.cls(world.config, contract.tenant.external_id, stuck, limiter=NoLimiter())
    contract.sandbox.arm("revoke")
    with pytest.raises(Reauthorize):
        provider.get(Entity.INVOICE, invoice_id)
    assert stuck.refreshes == 1


# ---------------------------------------------------------------- 8. writes


def returns_record(result: WriteResult, entity: Entity, external_id: str) -> bool:
    return any(r.entity is entity and same_id(r.external_id, external_id) for r in result.records)


def test_add_note_with_the_same_key_adds_one_note(contract: Contract) -> None:
    invoice_id = open_invoice(contract)["id"]
    text = f"Promised to pay by Friday ({uuid.uuid4().hex[:8]})"
    command = AddNote(Entity.INVOICE, invoice_id, text)
    same_key = key()

    first = contract.provider.write(command, idempotency_key=same_key)
    again = contract.provider.write(command, idempotency_key=same_key)

    assert isinstance(first, WriteResult) and first.reference
    assert isinstance(again, WriteResult) and again.reference
    assert contract.sandbox.note_count(contract.provider, invoice_id, text) == 1


def test_add_note_returns_the_invoice(contract: Contract) -> None:
    invoice_id = open_invoice(contract)["id"]
    command = AddNote(Entity.INVOICE, invoice_id, f"Called AP ({uuid.uuid4().hex[:8]})")
    result = contract.provider.write(command, idempotency_key=key())
    assert returns_record(result, Entity.INVOICE, invoice_id), result


def test_credit_hold_on_and_off(contract: Contract) -> None:
    customer_id = find(listed(contract, Entity.INVOICE), open_invoice(contract)["id"]).customer_id
    on = SetCreditHold(customer_id, True, "Contract test: 90 days overdue")
    off = SetCreditHold(customer_id, False, "Contract test: paid up")
    held = contract.provider.write(on, idempotency_key=key())
    released = contract.provider.write(off, idempotency_key=key())
    assert isinstance(held, WriteResult) and held.reference
    assert isinstance(released, WriteResult) and released.reference
    assert returns_record(held, Entity.CUSTOMER, customer_id), held
    assert returns_record(released, Entity.CUSTOMER, customer_id), released


def test_send_reminder_emails_the_invoice(contract: Contract) -> None:
    customers = listed(contract, Entity.CUSTOMER)
    emails = {c.external_id: c.email for c in customers if c.email}
    open_ones = [r for r in listed(contract, Entity.INVOICE) if r.status is InvoiceStatus.OPEN]
    invoice = next(r for r in open_ones if r.customer_id in emails)
    command = SendReminder(
        customer_id=invoice.customer_id,
        invoice_ids=(invoice.external_id,),
        to=emails[invoice.customer_id],
        subject="A friendly reminder",
        body="Invoice overdue; please pay.",
    )
    result = contract.provider.write(command, idempotency_key=key())
    assert isinstance(result, WriteResult) and result.reference
    assert invoice.external_id.lower() in contract.sandbox.emailed_invoices()
    assert returns_record(result, Entity.INVOICE, invoice.external_id), result


# ---------------------------------------------------------------- 9. disconnecting


@pytest.mark.parametrize("name", PROVIDERS)
def test_disconnect_with_revoke_kills_the_grant(
    name: str, redis: Redis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with connected(name, tmp_path_factory.mktemp(f"{name}-disconnect")) as world:
        provider = world.provider(RedisLimiter(redis))
        invoice_id = world.sandbox.open_invoices()[0]["id"]
        assert provider.get(Entity.INVOICE, invoice_id) is not None

        provider.disconnect(revoke_grant=True)

        with pytest.raises(DEAD_GRANT):
            provider.get(Entity.INVOICE, invoice_id)
        with pytest.raises(DEAD_GRANT):
            next(iter(provider.list_changed(Entity.INVOICE, None)))
