"""Xero write-back: reminders, notes, credit holds and discount settlements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import responses
from responses import matchers

from providers.base import AddNote
from providers.base import CreditNoteRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import Rejected
from providers.base import SendInvoice
from providers.base import SendReminder
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.config import ProviderSettings
from providers.http import RetryPolicy
from providers.xero import Xero
from providers.xero.writes import step_key
from tests.providers.test_xero_api import API
from tests.providers.test_xero_api import TENANT
from tests.providers.test_xero_api import FakeCredentials
from tests.providers.test_xero_api import fixture

INV1 = "0e7c6f3a-1b0a-4c7e-9d0e-000000000001"
INV2 = "0e7c6f3a-1b0a-4c7e-9d0e-000000000002"
KIWI = "c0000000-0000-4000-8000-00000000000a"
HOLD = "5c4b3a2f-1e0d-4c9b-8a7f-6e5d4c3b2a1f"
CREDIT = "cn000000-0000-4000-8000-000000000009"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def xero() -> Xero:
    settings = ProviderSettings(api_base=API)
    return Xero(settings, TENANT, FakeCredentials(), retry=RetryPolicy(sleep=lambda s: None))


def key(value: str) -> list[Any]:
    return [matchers.header_matcher({"Idempotency-Key": value, "xero-tenant-id": TENANT})]


def sent(call: responses.Call) -> dict:
    return json.loads(call.request.body)


def test_reminder_emails_each_invoice_and_returns_fresh_versions(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{API}/Invoices/{INV1}/Email", status=204, match=key(f"act-1:email:{INV1}"))
    rsps.post(f"{API}/Invoices/{INV2}/Email", status=204, match=key(f"act-1:email:{INV2}"))
    listed = fixture("invoices.json")["Invoices"][:2]
    rsps.get(
        f"{API}/Invoices",
        json={"Invoices": listed},
        match=[matchers.query_param_matcher({"IDs": f"{INV1},{INV2}"})],
    )
    command = SendReminder(KIWI, (INV1, INV2), "a@kiwi.example", "Overdue", "Please pay")
    result = xero.write(command, idempotency_key="act-1")
    assert sent(rsps.calls[0]) == {}
    assert [r.external_id for r in result.records] == [INV1, INV2]
    assert all(isinstance(r, InvoiceRecord) for r in result.records)


def test_send_invoice_emails_it_and_returns_the_reread_invoice(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{API}/Invoices/{INV1}/Email", status=204, match=key(f"inv-1:email:{INV1}"))
    reread_invoice(rsps, INV1, SentToContact=True)
    result = xero.write(SendInvoice(INV1, "ignored@kiwi.example"), idempotency_key="inv-1")
    assert sent(rsps.calls[0]) == {}
    assert [r.external_id for r in result.records] == [INV1]
    assert result.reference == f"emailed:{INV1}"


def test_send_invoice_of_a_draft_is_rejected_with_xeros_message(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{API}/Invoices/{INV1}/Email", status=400, json=fixture("email_draft_400.json"))
    with pytest.raises(Rejected) as raised:
        xero.write(SendInvoice(INV1), idempotency_key="inv-2")
    assert "can be emailed. This invoice is DRAFT." in raised.value.message
    assert (raised.value.status, raised.value.code) == (400, "ValidationException")
    assert len(rsps.calls) == 1, "no retry and no re-read after a rejection"


def test_invoice_links_skip_drafts_and_unknown_invoices(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{API}/Invoices/{INV1}/OnlineInvoice", json=fixture("online_invoice.json"))
    rsps.get(
        f"{API}/Invoices/{INV2}/OnlineInvoice", status=400, json=fixture("email_draft_400.json")
    )
    rsps.get(f"{API}/Invoices/{CREDIT}/OnlineInvoice", status=404, body="")
    links = xero.invoice_links([INV1, INV2, CREDIT, INV1])
    assert links == {INV1: "https://in.xero.com/q7RfcNzLkWp2Hs9TxVbA4mEyGu0DjK3o"}
    assert len(rsps.calls) == 3


def reread_invoice(rsps: responses.RequestsMock, invoice_id: str, **changes: Any) -> None:
    invoice = fixture("invoices.json")["Invoices"][0] | {"InvoiceID": invoice_id} | changes
    match = [matchers.query_param_matcher({"IDs": invoice_id}, strict_match=False)]
    rsps.get(f"{API}/Invoices", json={"Invoices": [invoice]}, match=match)


def reread_contact(rsps: responses.RequestsMock, contact_id: str) -> None:
    contact = fixture("contacts.json")["Contacts"][0] | {"ContactID": contact_id}
    match = [matchers.query_param_matcher({"IDs": contact_id}, strict_match=False)]
    rsps.get(f"{API}/Contacts", json={"Contacts": [contact]}, match=match)


def test_note_on_an_invoice(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.put(
        f"{API}/Invoices/{INV1}/History",
        json=fixture("history_added.json"),
        match=key("act-2:note"),
    )
    reread_invoice(rsps, INV1)
    result = xero.write(
        AddNote(Entity.INVOICE, INV1, "Promised to pay Friday"), idempotency_key="act-2"
    )
    assert sent(rsps.calls[0]) == {"HistoryRecords": [{"Details": "Promised to pay Friday"}]}
    assert result.reference == f"history:invoice:{INV1}"
    # The note bumped the invoice's version: the fresh record comes back for the mirror.
    assert [r.external_id for r in result.records] == [INV1]


def test_note_on_a_customer_and_an_overpayment(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.put(f"{API}/Contacts/{KIWI}/History", json=fixture("history_added.json"))
    rsps.put(f"{API}/Overpayments/o1/History", json=fixture("history_added.json"))
    reread_contact(rsps, KIWI)
    rsps.get(f"{API}/Overpayments/o1", json=fixture("overpayments.json"))
    xero.write(AddNote(Entity.CUSTOMER, KIWI, "Called"), idempotency_key="k")
    xero.write(AddNote(Entity.CREDIT_NOTE, "overpayment:o1", "Refund asked"), idempotency_key="k2")


def test_credit_hold_joins_the_existing_group(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/ContactGroups", json=fixture("contact_groups.json"))
    rsps.put(
        f"{API}/ContactGroups/{HOLD}/Contacts",
        json=fixture("contact_group_members.json"),
        match=key("act-3:join"),
    )
    rsps.put(
        f"{API}/Contacts/{KIWI}/History",
        json=fixture("history_added.json"),
        match=key("act-3:note"),
    )
    reread_contact(rsps, KIWI)
    result = xero.write(SetCreditHold(KIWI, True, "90 days overdue"), idempotency_key="act-3")
    assert [r.external_id for r in result.records] == [KIWI]
    assert sent(rsps.calls[1]) == {"Contacts": [{"ContactID": KIWI}]}
    assert "90 days overdue" in sent(rsps.calls[2])["HistoryRecords"][0]["Details"]
    assert result.reference == f"contact-group:{HOLD}"


def test_credit_hold_creates_the_group_when_missing(
    xero: Xero, rsps: responses.RequestsMock
) -> None:
    created = fixture("contact_group_created.json")["ContactGroups"][0]["ContactGroupID"]
    rsps.get(f"{API}/ContactGroups", json={"ContactGroups": []})
    rsps.put(
        f"{API}/ContactGroups", json=fixture("contact_group_created.json"), match=key("act-4:group")
    )
    rsps.put(f"{API}/ContactGroups/{created}/Contacts", json=fixture("contact_group_members.json"))
    reread_contact(rsps, KIWI)
    xero.write(SetCreditHold(KIWI, True), idempotency_key="act-4")
    assert sent(rsps.calls[1]) == {"ContactGroups": [{"Name": "Credit hold"}]}


def test_release_leaves_the_group(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/ContactGroups", json=fixture("contact_groups.json"))
    rsps.delete(f"{API}/ContactGroups/{HOLD}/Contacts/{KIWI}", status=204)
    rsps.delete(f"{API}/ContactGroups/{HOLD}/Contacts/{KIWI}", status=404)
    reread_contact(rsps, KIWI)
    xero.write(SetCreditHold(KIWI, False), idempotency_key="act-5")
    # Releasing twice is harmless; the group id is remembered.
    xero.write(SetCreditHold(KIWI, False), idempotency_key="act-6")
    assert len(rsps.calls) == 5  # group list, two releases, two re-reads


def test_release_without_a_group_does_nothing(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/ContactGroups", json={"ContactGroups": []})
    reread_contact(rsps, KIWI)
    result = xero.write(SetCreditHold(KIWI, False), idempotency_key="act-7")
    assert result.reference == "contact-group:none"
    assert len(rsps.calls) == 2


def test_settle_discount(xero: Xero, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/Invoices/{INV1}", json=fixture("invoice_for_discount.json"))
    rsps.put(
        f"{API}/CreditNotes",
        json=fixture("credit_note_created.json"),
        match=key("act-8:credit-note"),
    )
    rsps.put(
        f"{API}/CreditNotes/{CREDIT}/Allocations",
        json=fixture("allocation_created.json"),
        match=key("act-8:allocation"),
    )
    rsps.get(f"{API}/Invoices", json=fixture("invoice_after_discount.json"))
    rsps.get(f"{API}/CreditNotes/{CREDIT}", json=fixture("credit_note_after_allocation.json"))
    command = SettleDiscount(INV1, KIWI, Decimal("2.30"), "NZD", date(2026, 1, 10))
    result = xero.write(command, idempotency_key="act-8")

    note = sent(rsps.calls[1])["CreditNotes"][0]
    assert b'"UnitAmount":2.30' in rsps.calls[1].request.body
    assert note["Type"] == "ACCRECCREDIT" and note["Status"] == "AUTHORISED"
    assert note["Contact"] == {"ContactID": KIWI}
    assert note["Date"] == "2026-01-10" and note["CurrencyCode"] == "NZD"
    assert note["LineAmountTypes"] == "Inclusive"
    (line,) = note["LineItems"]
    assert (line["AccountCode"], line["TaxType"], line["Quantity"]) == ("200", "OUTPUT2", 1)
    assert sent(rsps.calls[2]) == {
        "Allocations": [{"Invoice": {"InvoiceID": INV1}, "Amount": 2.3, "Date": "2026-01-10"}]
    }
    assert result.reference == CREDIT
    invoice, credit = result.records
    assert isinstance(invoice, InvoiceRecord) and invoice.balance == Decimal("112.70")
    assert isinstance(credit, CreditNoteRecord) and credit.remaining == 0


@pytest.mark.parametrize(
    ("amount", "currency", "customer", "reason"),
    [
        (Decimal("115.01"), "NZD", KIWI, "does not fit"),
        (Decimal("0"), "NZD", KIWI, "does not fit"),
        (Decimal("2.30"), "USD", KIWI, "is in NZD"),
        (Decimal("2.30"), "NZD", "someone-else", "another customer"),
    ],
)
def test_settlement_checks_before_writing(
    xero: Xero,
    rsps: responses.RequestsMock,
    amount: Decimal,
    currency: str,
    customer: str,
    reason: str,
) -> None:
    rsps.get(f"{API}/Invoices/{INV1}", json=fixture("invoice_for_discount.json"))
    command = SettleDiscount(INV1, customer, amount, currency, date(2026, 1, 10))
    with pytest.raises(Rejected, match=reason):
        xero.write(command, idempotency_key="act-9")
    assert len(rsps.calls) == 1


def test_step_keys_stay_within_xeros_limit() -> None:
    assert step_key("act", "note") == "act:note"
    long = step_key("a" * 120, "email", INV1)
    assert len(long) <= 128
    assert long == step_key("a" * 120, "email", INV1)
    assert long != step_key("a" * 120, "email", INV2)
