"""Write commands against `responses`: requestid, SyncToken, notes, holds, reminders, discounts."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from providers.base import AddNote
from providers.base import Conflict
from providers.base import CreditApplication
from providers.base import CreditNoteRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from providers.base import InvoiceStatus
from providers.base import PaymentRecord
from providers.base import Rejected
from providers.base import SetCreditHold
from providers.base import SettleDiscount
from providers.base import Unsupported
from providers.config import ProviderSettings
from providers.quickbooks import QuickBooks
from providers.quickbooks import notes

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
BASE = "https://qbo.test"
REALM = "9130"
URL = f"{BASE}/v3/company/{REALM}"
SETTINGS = ProviderSettings(client_id="id", client_secret="secret", api_base=BASE)
USD_CUSTOMER = {"CustomerRef": {"value": "58"}, "CurrencyRef": {"value": "USD"}}
ON = date(2026, 5, 14)
TERMS_QUERY = "SELECT * FROM Term WHERE Active IN (true,false) STARTPOSITION 1 MAXRESULTS 1000"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def with_changes(name: str, entity: str, **changes) -> dict:
    answer = load(name)
    answer[entity] = {**answer[entity], **changes}
    return answer


class StaticCredentials:
    def access_token(self) -> str:
        return "token-1"

    def refreshed(self, rejected: str) -> str:
        raise AssertionError("no refresh expected")


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
        for call in mock.calls:
            assert "minorversion=75" in call.request.url
            assert call.request.headers["Accept"] == "application/json"


@pytest.fixture
def qb() -> QuickBooks:
    provider = QuickBooks(SETTINGS, REALM, StaticCredentials(), http=requests.Session())
    provider.clock = lambda: datetime(2026, 5, 14, 17, 0, tzinfo=UTC)
    provider.api.sleep = lambda seconds: None
    return provider


def posted(rsps, index: int) -> dict:
    return json.loads(rsps.calls[index].request.body)


def save_matcher(requestid: str) -> list:
    return [matchers.query_param_matcher({"requestid": requestid, "minorversion": "75"})]


# ---------------------------------------------------------------- notes


def test_invoice_note_is_appended_with_fresh_sync_token_and_requestid(rsps, qb):
    rsps.get(f"{URL}/invoice/130", json=load("invoice_partial_terms.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"))
    saved = with_changes(
        "invoice_partial_terms.json",
        "Invoice",
        SyncToken="4",
        PrivateNote="Customer asked for split billing\nReminder 1 sent",
    )
    rsps.post(f"{URL}/invoice", json=saved, match=save_matcher("action-1"))
    result = qb.write(AddNote(Entity.INVOICE, "130", "Reminder 1 sent"), idempotency_key="action-1")
    (post,) = [call for call in rsps.calls if call.request.method == "POST"]
    assert json.loads(post.request.body) == {
        "Id": "130",
        "SyncToken": "3",
        "sparse": True,
        "PrivateNote": "Customer asked for split billing\nReminder 1 sent",
    }
    (record,) = result.records
    assert isinstance(record, InvoiceRecord) and record.version == "4"
    assert result.reference == "Invoice 130"


def test_note_already_present_is_not_written_again(rsps, qb):
    answer = with_changes("customer.json", "Customer", Notes="Prefers email.\nReminder 1 sent")
    rsps.get(f"{URL}/customer/58", json=answer)
    result = qb.write(AddNote(Entity.CUSTOMER, "58", "Reminder 1 sent"), idempotency_key="k")
    assert len(rsps.calls) == 1
    assert result.records[0].version == "4"


def test_customer_note_keeps_the_hold_line_and_the_newest_text(rsps, qb):
    old = "[CREDIT HOLD 2026-05-01] Over limit\n" + "\n".join(f"note {n:04d}" for n in range(300))
    rsps.get(f"{URL}/customer/58", json=with_changes("customer.json", "Customer", Notes=old))
    rsps.post(f"{URL}/customer", json=load("customer.json"))
    qb.write(AddNote(Entity.CUSTOMER, "58", "Promised to pay Friday"), idempotency_key="k2")
    sent = posted(rsps, 1)["Notes"]
    assert len(sent) <= 2000
    assert sent.startswith("[CREDIT HOLD 2026-05-01] Over limit\n")
    assert sent.endswith("note 0299\nPromised to pay Friday")
    assert "note 0000" not in sent


def test_notes_on_credit_notes_are_unsupported(qb):
    with pytest.raises(Unsupported):
        qb.write(AddNote(Entity.CREDIT_NOTE, "148", "x"), idempotency_key="k")


def test_stale_sync_token_is_a_conflict(rsps, qb):
    rsps.get(f"{URL}/customer/58", json=load("customer.json"))
    rsps.post(f"{URL}/customer", json=load("fault_stale_object.json"), status=400)
    with pytest.raises(Conflict):
        qb.write(AddNote(Entity.CUSTOMER, "58", "hello"), idempotency_key="k")


def test_long_idempotency_key_is_hashed_into_requestid(rsps, qb):
    key = "org:1:rule:2:step:3:customer:58:period:2026-05:" + "z" * 30
    rsps.get(f"{URL}/customer/58", json=load("customer.json"))
    rsps.post(f"{URL}/customer", json=load("customer.json"))
    qb.write(AddNote(Entity.CUSTOMER, "58", "hello"), idempotency_key=key)
    requestid = rsps.calls[1].request.params["requestid"]
    assert 0 < len(requestid) <= 50 and requestid != key[:50]


# ---------------------------------------------------------------- credit hold


def test_credit_hold_is_a_dated_first_line_in_customer_notes(rsps, qb):
    rsps.get(f"{URL}/customer/58", json=load("customer.json"))
    rsps.post(f"{URL}/customer", json=load("customer.json"), match=save_matcher("hold-1"))
    qb.write(SetCreditHold("58", True, "Over credit limit"), idempotency_key="hold-1")
    assert posted(rsps, 1)["Notes"] == (
        "[CREDIT HOLD 2026-05-14] Over credit limit\nPrefers email.\nCall before 10am."
    )


def test_releasing_a_hold_removes_the_line(rsps, qb):
    held = "[CREDIT HOLD 2026-05-01] Over limit\nPrefers email."
    rsps.get(f"{URL}/customer/58", json=with_changes("customer.json", "Customer", Notes=held))
    rsps.post(f"{URL}/customer", json=load("customer.json"))
    qb.write(SetCreditHold("58", False), idempotency_key="release-1")
    assert posted(rsps, 1)["Notes"] == "Prefers email."


@pytest.mark.parametrize(
    ("notes_now", "command"),
    [
        ("Prefers email.", SetCreditHold("58", False)),
        ("[CREDIT HOLD 2026-05-01] Over limit\nx", SetCreditHold("58", True, "Over limit")),
    ],
)
def test_hold_already_in_the_wanted_state_writes_nothing(rsps, qb, notes_now, command):
    rsps.get(f"{URL}/customer/58", json=with_changes("customer.json", "Customer", Notes=notes_now))
    result = qb.write(command, idempotency_key="k")
    assert len(rsps.calls) == 1 and len(result.records) == 1


def test_note_helpers_trim_oldest_first():
    assert notes.append_note("", "first", 100) == "first"
    assert notes.append_note("a\nb\nc", "d", 5) == "c\nd"
    assert notes.append_note("old", "x" * 10, 4) == "xxxx"
    assert notes.clear_hold("no hold") is None
    assert notes.set_hold("", date(2026, 1, 2), "multi\nline  reason") == (
        "[CREDIT HOLD 2026-01-02] multi line reason"
    )


# ---------------------------------------------------------------- discounts


def test_settle_discount_creates_a_credit_memo_and_applies_it(rsps, qb):
    rsps.get(f"{URL}/invoice/130", json=load("invoice_partial_terms.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"))
    rsps.post(
        f"{URL}/creditmemo",
        json=with_changes("creditmemo.json", "CreditMemo", Id="200", TotalAmt=7.24),
        match=save_matcher("disc-1:creditmemo"),
    )
    applied = [
        {"Amount": 7.24, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
        {"Amount": 7.24, "LinkedTxn": [{"TxnId": "200", "TxnType": "CreditMemo"}]},
    ]
    rsps.post(
        f"{URL}/payment",
        json={
            "Payment": {"Id": "201", "SyncToken": "0", "TotalAmt": 0, "Line": applied}
            | USD_CUSTOMER
        },
        match=save_matcher("disc-1:payment"),
    )
    rsps.get(
        f"{URL}/invoice/130",
        json=with_changes("invoice_partial_terms.json", "Invoice", Balance=154.83, SyncToken="5"),
    )
    rsps.get(
        f"{URL}/creditmemo/200",
        json=with_changes("creditmemo.json", "CreditMemo", Id="200", RemainingCredit=0),
    )
    command = SettleDiscount("130", "58", Decimal("7.24"), "USD", date(2026, 5, 14), "2% early")
    result = qb.write(command, idempotency_key="disc-1")

    credit_body, payment_body = posted(rsps, 2), posted(rsps, 3)
    assert credit_body["CustomerRef"] == {"value": "58"}
    assert credit_body["TxnDate"] == "2026-05-14"
    assert credit_body["Line"] == [
        {
            "Amount": 7.24,
            "Description": "2% early",
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"Qty": 1, "UnitPrice": 7.24},
        }
    ]
    assert rsps.calls[2].request.body.count("7.24") == 2  # sent as exact numbers
    assert payment_body["TotalAmt"] == 0
    assert payment_body["Line"] == [
        {"Amount": 7.24, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
        {"Amount": 7.24, "LinkedTxn": [{"TxnId": "200", "TxnType": "CreditMemo"}]},
    ]
    invoice, credit, payment = result.records
    assert isinstance(invoice, InvoiceRecord) and invoice.balance == Decimal("154.83")
    assert isinstance(credit, CreditNoteRecord) and credit.remaining == Decimal("0")
    assert credit.status is InvoiceStatus.PAID and credit.allocations == ()
    assert isinstance(payment, PaymentRecord) and payment.allocations == ()
    assert payment.credits == (CreditApplication("200", "130", Decimal("7.24")),)
    assert result.reference == "CreditMemo 200, Payment 201"


def test_foreign_currency_discount_uses_the_invoice_exchange_rate(rsps, qb):
    rsps.get(f"{URL}/invoice/140", json=load("invoice_foreign.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"))
    rsps.post(f"{URL}/creditmemo", json={"CreditMemo": {"Id": "300", "SyncToken": "0"}})
    rsps.post(f"{URL}/payment", json={"Payment": {"Id": "301", "SyncToken": "0"}})
    rsps.get(f"{URL}/invoice/140", json=load("invoice_foreign.json"))
    rsps.get(f"{URL}/creditmemo/300", json=with_changes("creditmemo.json", "CreditMemo", Id="300"))
    rsps.get(f"{URL}/preferences", json=load("preferences.json"))
    command = SettleDiscount("140", "77", Decimal("24.01"), "EUR", date(2026, 5, 14))
    qb.write(command, idempotency_key="eur-1")
    body = posted(rsps, 2)
    assert body["CurrencyRef"] == {"value": "EUR"}
    assert body["ExchangeRate"] == 1.0825
    assert body["PrivateNote"] == "Early-payment discount on invoice EU-7"


@pytest.mark.parametrize(
    ("command", "error", "message"),
    [
        (SettleDiscount("130", "58", Decimal("500"), "USD", ON), Conflict, "balance"),
        (SettleDiscount("130", "58", Decimal("0"), "USD", ON), Rejected, "positive"),
        (SettleDiscount("130", "99", Decimal("1"), "USD", ON), Rejected, "customer"),
        (SettleDiscount("130", "58", Decimal("1"), "EUR", ON), Rejected, "USD"),
    ],
)
def test_settlement_that_does_not_fit_writes_nothing(rsps, qb, command, error, message):
    rsps.get(f"{URL}/invoice/130", json=load("invoice_partial_terms.json"))
    rsps.get(f"{URL}/query", json=load("terms.json"))
    with pytest.raises(error, match=message):
        qb.write(command, idempotency_key="k")
    assert all(call.request.method == "GET" for call in rsps.calls)
