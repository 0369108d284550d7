"""Xero webhook signatures and event parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest

from providers.base import Entity
from providers.xero import Xero

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero"
KEY = "aSWoa3/lIB4p1LLQzq5a0a+r4GVBpETyPpSd1qbHI0Kd9e0U/uTIzJ4Bez9w8T+hh0EbeQgB5NfkKJxAJ3VN4A=="
NZ = "70784a63-d24b-46a9-a4db-0e70a274b056"


def sign(body: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_signed_body_verifies_with_any_header_case() -> None:
    raw = body("webhook_events.json")
    assert Xero.verify_webhook({"x-xero-signature": sign(raw)}, raw, KEY)
    assert Xero.verify_webhook({"X-Xero-Signature": sign(raw)}, raw, KEY)


def test_tampered_body_fails() -> None:
    raw = body("webhook_events.json")
    signature = sign(raw)
    tampered = raw.replace(b"UPDATE", b"CREATE", 1)
    assert not Xero.verify_webhook({"x-xero-signature": signature}, tampered, KEY)


def test_wrong_key_missing_header_or_no_key_fail() -> None:
    raw = body("webhook_intent.json")
    assert not Xero.verify_webhook({"x-xero-signature": sign(raw, "other")}, raw, KEY)
    assert not Xero.verify_webhook({}, raw, KEY)
    assert not Xero.verify_webhook({"x-xero-signature": sign(raw, "")}, raw, "")
    assert not Xero.verify_webhook({"x-xero-signature": "not base64 é"}, raw, KEY)


def test_intent_to_receive_gives_no_notices() -> None:
    assert Xero.parse_webhook(body("webhook_intent.json")) == []


def test_events_become_notices() -> None:
    notices = Xero.parse_webhook(body("webhook_events.json"))
    assert [(n.entity, n.operation) for n in notices] == [
        (Entity.INVOICE, "update"),
        (Entity.CUSTOMER, "create"),
        (Entity.CREDIT_NOTE, "create"),
    ]  # the supplier credit note and the subscription event are skipped
    invoice, contact, credit = notices
    assert invoice.tenant_external_id == NZ
    assert invoice.external_id == "0e7c6f3a-1b0a-4c7e-9d0e-000000000001"
    assert invoice.occurred_at == datetime(2026, 1, 2, 3, 4, 5, 902000, tzinfo=UTC)
    assert contact.tenant_external_id == "e0da6937-de07-4a14-adee-37abfac298ce"
    assert contact.occurred_at == datetime(2026, 1, 2, 3, 4, 6, 60000, tzinfo=UTC)
    assert credit.external_id == "cn000000-0000-4000-8000-000000000001"
    assert len({n.dedupe_key for n in notices}) == 3


def test_dedupe_key_is_stable_and_tracks_the_event() -> None:
    raw = body("webhook_events.json")
    first = Xero.parse_webhook(raw)[0].dedupe_key
    assert Xero.parse_webhook(raw)[0].dedupe_key == first
    later = raw.replace(b"2026-01-02T03:04:05.902", b"2026-01-02T03:09:00.000")
    assert Xero.parse_webhook(later)[0].dedupe_key != first


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"entropy": "x"}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_raise(raw: bytes) -> None:
    with pytest.raises(ValueError):
        Xero.parse_webhook(raw)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ('"x"', "the event is a JSON str, not an object"),
        (
            '{"eventCategory": "INVOICE", "eventType": "UPDATE"}',
            "tenantId must be a non-empty string, not None",
        ),
        (
            '{"resourceId": "1", "tenantId": "t", "eventCategory": "INVOICE",'
            ' "eventType": "UPDATE", "eventDateUtc": "last tuesday"}',
            "eventDateUtc: not a Xero timestamp: 'last tuesday'",
        ),
    ],
)
def test_a_malformed_event_is_set_aside_and_the_rest_kept(event: str, reason: str) -> None:
    good = (
        '{"resourceId": "2", "tenantId": "t", "eventCategory": "INVOICE", "eventType": "UPDATE",'
        ' "eventDateUtc": "2026-01-01T00:00:00"}'
    )
    bad, kept = Xero.parse_webhook(f'{{"events": [{event}, {good}]}}'.encode())
    assert bad.rejected == reason and bad.entity is None
    assert (kept.rejected, kept.external_id) == (None, "2")
