"""Xero dates, time zones and JSON -> records, against our own Xero-shaped fixtures."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from providers.base import Allocation
from providers.base import InvoiceStatus
from providers.xero import dates
from providers.xero import mapping
from providers.xero.timezones import iana_timezone

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def by_id(records: list[Any]) -> dict[str, Any]:
    return {r.external_id: r for r in records}


# ---------------------------------------------------------------- dates


def test_ms_date_is_a_utc_instant_whatever_the_offset() -> None:
    expected = datetime(2018, 2, 16, tzinfo=UTC)
    assert dates.instant("/Date(1518739200000+0000)/") == expected
    assert dates.instant("/Date(1518739200000+1300)/") == expected
    assert dates.instant("/Date(1518739200000)/") == expected
    assert dates.instant("/Date(1518739200000+1300)/").tzinfo is UTC


def test_iso_timestamps_without_zone_mean_utc() -> None:
    assert dates.instant("2025-12-02T00:44:09.923") == datetime(
        2025, 12, 2, 0, 44, 9, 923000, tzinfo=UTC
    )
    assert dates.instant("2018-02-09T09:19:05.06Z") == datetime(
        2018, 2, 9, 9, 19, 5, 60000, tzinfo=UTC
    )
    assert dates.instant("2020-02-06T12:17:43.202-08:00") == datetime(
        2020, 2, 6, 20, 17, 43, 202000, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["/Date(0+0000)/", "/Date(0)/", "/Date(-62135596800000)/", None])
def test_placeholders_are_none(value: str | None) -> None:
    assert dates.instant(value) is None
    assert dates.calendar_date(None, value) is None


def test_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        dates.instant("yesterday")


def test_calendar_date_prefers_the_string_twin() -> None:
    # The webfox sample: Date says 2018-02-15, DateString says 2009-05-27; the twin wins.
    assert dates.calendar_date("2009-05-27T00:00:00", "/Date(1518685950940+0000)/") == date(
        2009, 5, 27
    )


def test_nz_midnight_stays_on_its_day() -> None:
    # 2026-01-01 00:00 in Auckland (+13:00) is 2025-12-31 11:00 UTC.
    assert dates.calendar_date(None, "/Date(1767178800000+1300)/") == date(2026, 1, 1)


def test_us_dates_stay_on_their_day() -> None:
    assert dates.calendar_date(None, "/Date(1768464000000-0800)/") == date(2026, 1, 15)
    # 20:00 on 14 Feb in -08:00 is already the 15th in UTC.
    assert dates.calendar_date(None, "/Date(1771128000000-0800)/") == date(2026, 2, 14)


def test_if_modified_since_is_rfc_1123_one_second_early() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert dates.if_modified_since(since) == "Fri, 02 Jan 2026 03:04:04 GMT"


# ---------------------------------------------------------------- time zones


@pytest.mark.parametrize(
    ("xero", "iana"),
    [
        ("NEWZEALANDSTANDARDTIME", "Pacific/Auckland"),
        ("PACIFICSTANDARDTIME", "America/Los_Angeles"),
        ("GMTSTANDARDTIME", "Europe/London"),
        ("AUSEASTERNSTANDARDTIME", "Australia/Sydney"),
        ("EASTERNSTANDARDTIME", "America/New_York"),
        ("CENTRALSTANDARDTIME", "America/Chicago"),
        ("EAUSTRALIASTANDARDTIME", "Australia/Brisbane"),
        ("WEUROPESTANDARDTIME", "Europe/Berlin"),
        ("SINGAPORESTANDARDTIME", "Asia/Singapore"),
        ("MIDATLANTICSTANDARDTIME", "Etc/GMT+2"),
        ("UTC+12", "Etc/GMT-12"),
        ("UTC-11", "Etc/GMT+11"),
        ("New Zealand Standard Time", "Pacific/Auckland"),
        ("MARSSTANDARDTIME", None),
        (None, None),
    ],
)
def test_timezones(xero: str | None, iana: str | None) -> None:
    assert iana_timezone(xero) == iana


# ---------------------------------------------------------------- invoices


@pytest.fixture
def invoices() -> dict[str, Any]:
    records = [mapping.invoice(raw) for raw in load("invoices.json")["Invoices"]]
    return by_id([r for r in records if r is not None])


def inv(n: int) -> str:
    return f"0e7c6f3a-1b0a-4c7e-9d0e-{n:012d}"


def test_bills_are_not_receivables(invoices: dict[str, Any]) -> None:
    assert len(invoices) == 9
    assert inv(9) not in invoices


def test_nz_invoice(invoices: dict[str, Any]) -> None:
    record = invoices[inv(1)]
    assert record.issue_date == date(2026, 1, 1)
    assert record.due_date == date(2026, 1, 31)
    assert record.total == Decimal("115.00") and record.balance == Decimal("115.00")
    assert isinstance(record.total, Decimal)
    assert record.status is InvoiceStatus.OPEN
    assert record.customer_id == "c0000000-0000-4000-8000-00000000000a"
    assert record.email == "accounts@kiwi.example"
    assert record.currency == "NZD"
    assert record.number == "INV-NZ-1"
    assert record.version == "/Date(1767323045123+0000)/"
    assert record.updated_at == datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)


def test_us_invoice_without_twins(invoices: dict[str, Any]) -> None:
    record = invoices[inv(2)]
    assert (record.issue_date, record.due_date) == (date(2026, 1, 15), date(2026, 2, 14))
    assert record.balance == Decimal("250.10")
    assert record.email is None


def test_string_amounts(invoices: dict[str, Any]) -> None:
    record = invoices[inv(3)]
    assert record.total == Decimal("2025.00")
    assert record.balance == Decimal("1025.00")
    assert record.issue_date == date(2009, 5, 27)
    assert record.due_date == date(2009, 6, 6)


@pytest.mark.parametrize(
    ("n", "status", "deleted"),
    [
        (4, InvoiceStatus.VOIDED, False),
        (5, InvoiceStatus.DELETED, True),
        (6, InvoiceStatus.PAID, False),
        (7, InvoiceStatus.DRAFT, False),
        (8, InvoiceStatus.DRAFT, False),
        (10, InvoiceStatus.PAID, False),
    ],
)
def test_statuses(invoices: dict[str, Any], n: int, status: InvoiceStatus, deleted: bool) -> None:
    assert invoices[inv(n)].status is status
    assert invoices[inv(n)].deleted is deleted


def test_paid_invoice_with_validation_errors_maps(invoices: dict[str, Any]) -> None:
    record = invoices[inv(6)]
    assert record.total == Decimal("148062.76")
    assert record.balance == Decimal("0.00")


def test_draft_without_number_and_placeholder_due_date(invoices: dict[str, Any]) -> None:
    record = invoices[inv(7)]
    assert record.number is None
    assert record.due_date is None
    assert record.issue_date == date(2026, 1, 6)


def test_unknown_invoice_status_is_an_error() -> None:
    raw = dict(load("invoices.json")["Invoices"][0], Status="ON_HOLD")
    with pytest.raises(ValueError, match="ON_HOLD"):
        mapping.invoice(raw)


# ---------------------------------------------------------------- contacts


@pytest.fixture
def contacts() -> dict[str, Any]:
    return by_id([mapping.customer(raw) for raw in load("contacts.json")["Contacts"]])


def contact(letter: str) -> str:
    return f"c0000000-0000-4000-8000-00000000000{letter}"


def test_active_contact(contacts: dict[str, Any]) -> None:
    record = contacts[contact("a")]
    assert record.name == "Kiwi Wholesale"
    assert record.email == "accounts@kiwi.example"
    assert record.currency == "NZD"
    assert record.active is True
    assert record.balance == Decimal("760.00")
    assert record.phone == "64 (09) 847-1294"
    assert record.merged_into is None


def test_archived_contact_is_inactive(contacts: dict[str, Any]) -> None:
    record = contacts[contact("d")]
    assert record.active is False
    assert record.balance is None
    assert record.email is None
    assert record.phone is None
    assert record.deleted is False


def test_merged_contact(contacts: dict[str, Any]) -> None:
    assert contacts[contact("e")].merged_into == contact("a")
    assert contacts[contact("e")].active is False
    # Xero's all-zero GUID means "not merged".
    assert contacts[contact("b")].merged_into is None


def test_contact_balance_as_string(contacts: dict[str, Any]) -> None:
    assert contacts[contact("b")].balance == Decimal("12.50")


# ---------------------------------------------------------------- payments


def test_payments() -> None:
    records = [mapping.payment(raw) for raw in load("payments.json")["Payments"]]
    kept = by_id([r for r in records if r is not None])
    assert sorted(kept) == [
        "p0000000-0000-4000-8000-000000000001",
        "p0000000-0000-4000-8000-000000000002",
    ]
    batch = kept["p0000000-0000-4000-8000-000000000001"]
    assert batch.amount == Decimal("46.00")
    assert batch.allocations == (Allocation(inv(1), Decimal("46.00")),)
    assert batch.customer_id == contact("a")
    assert batch.currency == "NZD"
    assert batch.paid_on == date(2026, 1, 1)
    assert batch.unapplied == 0
    assert batch.deleted is False
    deleted = kept["p0000000-0000-4000-8000-000000000002"]
    assert deleted.deleted is True
    assert deleted.amount == Decimal("12.34")
    assert deleted.paid_on == date(2026, 1, 15)


# ---------------------------------------------------------------- credit


def test_credit_notes() -> None:
    records = [mapping.credit_note(raw) for raw in load("credit_notes.json")["CreditNotes"]]
    kept = by_id([r for r in records if r is not None])
    assert len(kept) == 3  # the supplier credit note is not ours
    note = kept["cn000000-0000-4000-8000-000000000001"]
    assert note.number == "CN-0005"
    assert note.total == Decimal("34.50") and note.remaining == Decimal("10.00")
    assert note.issue_date == date(2026, 1, 1)
    # The deleted allocation no longer counts.
    assert note.allocations == (Allocation(inv(1), Decimal("24.50")),)
    assert note.status is InvoiceStatus.OPEN
    draft = kept["cn000000-0000-4000-8000-000000000003"]
    assert draft.number is None
    assert draft.remaining == 0  # draft credit is not usable yet
    voided = kept["cn000000-0000-4000-8000-000000000004"]
    assert voided.voided is True and voided.remaining == 0
    assert voided.issue_date == date(2026, 1, 15)
    assert voided.status is InvoiceStatus.VOIDED


def test_a_draft_credit_note_keeps_its_status_and_is_not_used_up() -> None:
    raw = load("credit_notes.json")["CreditNotes"][2]
    draft = mapping.credit_note(raw)
    assert draft is not None and draft.status is InvoiceStatus.DRAFT
    assert (draft.total, draft.remaining, draft.allocations) == (Decimal("46.00"), 0, ())
    submitted = mapping.credit_note({**raw, "Status": "SUBMITTED"})
    assert submitted is not None and submitted.status is InvoiceStatus.DRAFT
    used = mapping.credit_note(
        {**load("credit_notes.json")["CreditNotes"][0], "Status": "PAID", "RemainingCredit": 0}
    )
    assert used is not None and used.status is InvoiceStatus.PAID
    authorised_empty = mapping.credit_note(
        {**load("credit_notes.json")["CreditNotes"][0], "RemainingCredit": "0.00"}
    )
    assert authorised_empty is not None and authorised_empty.status is InvoiceStatus.PAID


def test_overpayments_become_prefixed_credit() -> None:
    records = [mapping.overpayment(raw) for raw in load("overpayments.json")["Overpayments"]]
    kept = [r for r in records if r is not None]
    assert [r.external_id for r in kept] == ["overpayment:o0000000-0000-4000-8000-000000000002"]
    credit = kept[0]
    assert credit.customer_id == contact("a")
    assert credit.total == Decimal("115.00")
    assert credit.remaining == Decimal("20.00")
    assert credit.allocations == (Allocation(inv(8), Decimal("95.00")),)
    assert credit.number is None
    assert credit.issue_date == date(2026, 1, 3)


def test_prepayments_become_prefixed_credit() -> None:
    credit = mapping.prepayment(load("prepayments.json")["Prepayments"][0])
    assert credit is not None
    assert credit.external_id == "prepayment:r0000000-0000-4000-8000-000000000001"
    assert credit.remaining == Decimal("100.00")
    assert credit.total == Decimal("150.00")
    assert credit.allocations == (Allocation(inv(2), Decimal("50.00")),)
    assert credit.issue_date == date(2026, 1, 15)


def test_money_rejects_nonsense() -> None:
    assert mapping.money("1025.00") == Decimal("1025.00")
    assert mapping.money(None) == 0
    with pytest.raises(ValueError):
        mapping.money("12,50")
    with pytest.raises(ValueError):
        mapping.money(True)


@pytest.mark.parametrize(
    ("n", "sent_to_contact", "sent"),
    [
        (1, False, False),  # AUTHORISED
        (1, True, True),
        (8, False, False),  # SUBMITTED: Xero can email it
        (7, False, None),  # DRAFT: Xero cannot email it
        (1, None, None),  # not in the payload
    ],
)
def test_sent_to_contact(n: int, sent_to_contact: bool | None, sent: bool | None) -> None:
    raw = next(r for r in load("invoices.json")["Invoices"] if r.get("InvoiceID") == inv(n))
    raw = dict(raw, SentToContact=sent_to_contact)
    if sent_to_contact is None:
        del raw["SentToContact"]
    assert mapping.invoice(raw).sent_to_customer is sent


@pytest.mark.parametrize(
    "value",
    [
        "/Date(1518739200000+0000)/",
        "/Date(-1518739200123-0930)/",
        " /Date(1518739200000+2359)/\n",
        "/Date(1518739200000+2360)/",  # 24 hours: no offset timezone takes
        "/Date(1518739200000-9999)/",
        "/Date(1518739200000+0099)/",  # 99 minutes: taken
        "/Date(0+0000)/",
        "/Date(-62135596800000)/",
        "/Date(999999999999999999)/",
        "/Date(1518739200000+13)/",
    ],
)
def test_instant_of_a_ms_date_is_what_its_parts_give(value: str) -> None:
    """`instant` reads a well-formed /Date()/ with a quicker pattern; every value gives what
    the offset-checking parse (`_ms_parts`) gives, errors included."""

    def by_parts() -> datetime | None:
        parts = dates._ms_parts(value)
        if parts is None:
            raise ValueError("not a /Date()/")
        ms = parts[0]
        if ms in (0, dates._MIN_VALUE_MS):
            return None
        try:
            return dates._EPOCH + timedelta(milliseconds=ms)
        except OverflowError as exc:
            raise ValueError("out of range") from exc

    try:
        expected: datetime | None | type[ValueError] = by_parts()
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError):
            dates.instant(value)
    else:
        assert dates.instant(value) == expected
