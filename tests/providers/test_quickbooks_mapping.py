"""QuickBooks JSON -> records, on payloads shaped like real QuickBooks answers."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from providers.base import Allocation
from providers.base import CreditApplication
from providers.base import Entity
from providers.base import InvoiceStatus
from providers.quickbooks import mapping
from providers.quickbooks.listing import cdc_objects

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
STAMP = datetime(2026, 5, 14, 17, 0, tzinfo=UTC)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def terms() -> dict[str, mapping.Term]:
    return mapping.terms_by_id(load("terms.json")["QueryResponse"]["Term"])


def ctx(**kw) -> mapping.Context:
    return mapping.Context(**{"home_currency": "USD", "fallback_time": STAMP, **kw})


def test_partially_paid_invoice_with_discount_terms():
    record = mapping.invoice(load("invoice_partial_terms.json")["Invoice"], ctx(terms=terms()))
    assert record.external_id == "130"
    assert record.version == "3"
    assert record.updated_at == datetime(2026, 5, 12, 17, 15, 30, tzinfo=UTC)
    assert record.customer_id == "58"
    assert record.number == "1037"
    assert (record.issue_date, record.due_date) == (date(2026, 5, 1), date(2026, 5, 31))
    assert record.total == Decimal("362.07")
    assert record.balance == Decimal("162.07")
    assert isinstance(record.balance, Decimal)
    assert record.status is InvoiceStatus.OPEN
    assert record.email == "ap@acme.test"
    assert record.discount_percent == Decimal("2")
    assert record.discount_days == 10
    assert record.link.startswith("https://app.qbo.intuit.com/")
    assert record.currency == "USD"
    assert not record.deleted


def test_terms_without_discount_and_date_driven_terms_give_no_discount():
    found = terms()
    assert found["4"] == mapping.Term()
    assert found["5"] == mapping.Term()
    record = mapping.invoice(load("invoice_foreign.json")["Invoice"], ctx(terms=found))
    assert record.discount_percent is None and record.discount_days is None


def test_invoice_whose_term_is_unknown_has_no_discount():
    record = mapping.invoice(load("invoice_partial_terms.json")["Invoice"], ctx())
    assert record.discount_percent is None


def test_paid_invoice():
    record = mapping.invoice(load("invoice_paid.json")["Invoice"], ctx())
    assert record.status is InvoiceStatus.PAID
    assert record.balance == Decimal("0")
    assert record.link is None and record.email is None


def test_voided_invoice_is_kept_as_voided_not_paid_or_deleted():
    record = mapping.invoice(load("invoice_voided.json")["Invoice"], ctx())
    assert record.status is InvoiceStatus.VOIDED
    assert record.total == Decimal("0")
    assert not record.deleted


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"PrivateNote": "Voided - duplicate of 1040"}, InvoiceStatus.VOIDED),
        ({"PrivateNote": ""}, InvoiceStatus.OPEN),  # a zero invoice, not voided
        ({"PrivateNote": "Voided", "TotalAmt": 10, "Balance": 10}, InvoiceStatus.OPEN),
        ({"PrivateNote": None, "TxnStatus": "Voided"}, InvoiceStatus.VOIDED),
    ],
)
def test_void_detection_needs_zero_amounts_and_the_marker(changes, status):
    raw = {**load("invoice_voided.json")["Invoice"], **changes}
    assert mapping.invoice_status(raw) is status


def test_foreign_currency_invoice_keeps_its_currency():
    record = mapping.invoice(load("invoice_foreign.json")["Invoice"], ctx())
    assert record.currency == "EUR"
    assert record.total == Decimal("1200.50")
    assert record.updated_at.tzinfo is not None


def test_missing_currency_falls_back_to_home_currency():
    raw = dict(load("invoice_paid.json")["Invoice"])
    del raw["CurrencyRef"]
    assert mapping.invoice(raw, ctx(home_currency="CAD")).currency == "CAD"


def test_multi_invoice_payment_with_unapplied_money():
    record = mapping.payment(load("payment_multi_invoice.json")["Payment"], ctx())
    assert record.external_id == "161"
    assert record.amount == Decimal("350.00")
    assert record.unapplied == Decimal("50.00")
    assert record.paid_on == date(2026, 5, 12)
    assert record.allocations == (
        Allocation("130", Decimal("200.00")),
        Allocation("131", Decimal("100.00")),
    )


def test_payment_applying_a_credit_memo_reports_cash_only():
    record = mapping.payment(load("payment_with_credit.json")["Payment"], ctx())
    assert record.amount == Decimal("80.00")
    assert record.allocations == (
        Allocation("132", Decimal("60.00")),
        Allocation("133", Decimal("20.00")),
    )
    assert sum(a.amount for a in record.allocations) + record.unapplied == record.amount


def test_credit_applied_through_a_payment_is_that_credit_memos_allocation():
    record = mapping.payment(load("payment_with_credit.json")["Payment"], ctx())
    assert record.credits == (CreditApplication("148", "132", Decimal("40.00")),)


def test_zero_payment_that_only_applies_credit_has_one_credit_application():
    raw = {
        **load("payment_with_credit.json")["Payment"],
        "TotalAmt": 0,
        "Line": [
            {"Amount": 7.5, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
            {"Amount": 7.5, "LinkedTxn": [{"TxnId": "148", "TxnType": "CreditMemo"}]},
        ],
    }
    record = mapping.payment(raw, ctx())
    assert record.allocations == ()
    assert record.credits == (CreditApplication("148", "130", Decimal("7.5")),)


def test_one_credit_memo_spread_over_invoices_in_line_order():
    raw = {
        **load("payment_with_credit.json")["Payment"],
        "TotalAmt": 10,
        "Line": [
            {"Amount": 30, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
            {"Amount": 20, "LinkedTxn": [{"TxnId": "131", "TxnType": "Invoice"}]},
            {"Amount": 25, "LinkedTxn": [{"TxnId": "148", "TxnType": "CreditMemo"}]},
            {"Amount": 15, "LinkedTxn": [{"TxnId": "149", "TxnType": "CreditMemo"}]},
        ],
    }
    record = mapping.payment(raw, ctx())
    assert record.credits == (
        CreditApplication("148", "130", Decimal("25")),
        CreditApplication("149", "130", Decimal("5")),
        CreditApplication("149", "131", Decimal("10")),
    )
    assert record.allocations == (Allocation("131", Decimal("10")),)


def test_credit_memo_remaining_credit():
    record = mapping.credit_note(load("creditmemo.json")["CreditMemo"], ctx())
    assert record.number == "CM-1004"
    assert record.total == Decimal("65.00")
    assert record.remaining == Decimal("25.00")
    assert not record.voided
    assert record.allocations == ()
    assert record.status is InvoiceStatus.OPEN


def test_credit_memo_used_up_or_voided_has_that_status():
    raw = load("creditmemo.json")["CreditMemo"]
    used = mapping.credit_note({**raw, "RemainingCredit": 0, "Balance": 0}, ctx())
    assert (used.status, used.remaining) == (InvoiceStatus.PAID, Decimal("0"))
    voided = {**raw, "TotalAmt": 0, "Balance": 0, "RemainingCredit": 0, "PrivateNote": "Voided"}
    assert mapping.credit_note(voided, ctx()).status is InvoiceStatus.VOIDED


def test_customer():
    record = mapping.customer(load("customer.json")["Customer"], ctx())
    assert record.name == "Acme Garden Supply"
    assert record.email == "ap@acme.test"
    assert record.phone == "(520) 420-5638"
    assert record.balance == Decimal("462.07")
    assert record.active is True
    assert record.merged_into is None
    assert record.version == "4"


def test_merged_away_customer_is_inactive_without_the_deleted_suffix():
    record = mapping.customer(load("customer_merged_inactive.json")["Customer"], ctx())
    assert record.active is False
    assert record.name == "Acme Garden (old)"
    assert record.currency == "GBP"
    assert record.merged_into is None
    assert record.email is None


def test_cdc_delete_stub_becomes_a_deleted_record():
    rows = cdc_objects(load("cdc_invoices_with_delete.json"))["Invoice"]
    stub = next(row for row in rows if row.get("status") == "Deleted")
    record = mapping.to_record(Entity.INVOICE, stub, ctx())
    assert record.deleted is True
    assert record.status is InvoiceStatus.DELETED
    assert record.external_id == "266"
    assert record.updated_at == datetime(2026, 5, 13, 13, 2, 35, tzinfo=UTC)


def test_delete_stub_without_metadata_takes_the_answer_time():
    record = mapping.to_record(Entity.PAYMENT, {"status": "Deleted", "Id": "9"}, ctx())
    assert record.deleted and record.updated_at == STAMP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-10-05T14:42:19-0700", datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)),
        ("2025-09-10T21:31:25.179851517Z", datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC)),
        ("2026-05-01T10:00:00-07:00", datetime(2026, 5, 1, 17, 0, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_parse_instant(text, expected):
    assert mapping.parse_instant(text) == expected


@pytest.mark.parametrize(
    ("email_status", "sent"),
    [("NeedToSend", False), ("EmailSent", True), ("NotSet", None), (None, None)],
)
def test_email_status_says_whether_the_invoice_was_sent(email_status, sent):
    raw = dict(load("invoice_partial_terms.json")["Invoice"], EmailStatus=email_status)
    if email_status is None:
        del raw["EmailStatus"]
    assert mapping.invoice(raw, ctx()).sent_to_customer is sent
