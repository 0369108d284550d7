"""QuickBooks webhook signatures and both payload envelopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest

from providers.base import Entity
from providers.quickbooks import QuickBooks

FIXTURES = Path(__file__).parent.parent / "fixtures" / "quickbooks"
KEY = "my-verifier-token"
BODY = b'{"stuff":"5"}'


def signature(body: bytes, key: str = KEY) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def test_known_vector_verifies_with_any_header_case():
    assert QuickBooks.verify_webhook({"intuit-signature": signature(BODY)}, BODY, KEY)
    assert QuickBooks.verify_webhook({"Intuit-Signature": signature(BODY)}, BODY, KEY)


@pytest.mark.parametrize(
    ("headers", "body", "key"),
    [
        ({"intuit-signature": signature(BODY)}, b'{"stuff":"6"}', KEY),  # tampered body
        ({"intuit-signature": signature(BODY)}, BODY, "another-key"),
        ({}, BODY, KEY),
        ({"intuit-signature": ""}, BODY, KEY),
        ({"intuit-signature": "%%% not base64 %%%"}, BODY, KEY),
        ({"intuit-signature": "bm90IHRoZSBzaWduYXR1cmU="}, BODY, KEY),
        ({"intuit-signature": "ünïcode"}, BODY, KEY),
        ({"intuit-signature": signature(BODY, "")}, BODY, ""),
    ],
)
def test_bad_or_missing_signatures_fail(headers, body, key):
    assert QuickBooks.verify_webhook(headers, body, key) is False


def test_classic_envelope_with_two_realms():
    body = (FIXTURES / "webhook_classic_two_realms.json").read_bytes()
    notices = QuickBooks.parse_webhook(body)
    assert [(n.tenant_external_id, n.entity, n.external_id, n.operation) for n in notices] == [
        ("1185883450", Entity.CUSTOMER, "1", "Create"),
        ("1185883450", None, "40", "Update"),
        ("1185883450", Entity.CUSTOMER, "58", "Merge"),
        ("1269959970", Entity.INVOICE, "130", "Void"),
        ("1269959970", Entity.CREDIT_NOTE, "148", "Update"),
    ]
    assert notices[0].occurred_at == datetime(2026, 5, 5, 21, 42, 19, tzinfo=UTC)
    assert notices[2].merged_from == "59"
    assert notices[0].merged_from is None
    keys = [n.dedupe_key for n in notices]
    assert len(set(keys)) == len(keys)
    assert keys == [n.dedupe_key for n in QuickBooks.parse_webhook(body)]


def test_classic_dedupe_key_changes_with_last_updated():
    def body(stamp: str) -> bytes:
        return (
            b'{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":'
            b'[{"name":"Invoice","id":"5","operation":"Update","lastUpdated":"'
            + stamp.encode()
            + b'"}]}}]}'
        )

    first = QuickBooks.parse_webhook(body("2026-05-05T10:00:00Z"))[0]
    second = QuickBooks.parse_webhook(body("2026-05-05T10:00:01Z"))[0]
    assert first.dedupe_key != second.dedupe_key


def test_cloudevents_array_spanning_realms():
    body = (FIXTURES / "webhook_cloudevents_multi_realm.json").read_bytes()
    notices = QuickBooks.parse_webhook(body)
    assert [(n.tenant_external_id, n.entity, n.external_id, n.operation) for n in notices] == [
        ("310687", Entity.INVOICE, "130", "Update"),
        ("9130352225739446", Entity.PAYMENT, "161", "Create"),
        ("310687", Entity.CREDIT_NOTE, "149", "Delete"),
        ("310687", None, "1234", "Create"),
    ]
    assert notices[0].dedupe_key == "88cd52aa-33b6-4351-9aa4-47572edbd068"
    assert notices[0].occurred_at == datetime(2026, 5, 10, 21, 31, 25, 179851, tzinfo=UTC)


def test_cloudevent_merge_carries_the_merged_id_when_given():
    body = (
        b'[{"specversion":"1.0","id":"e1","type":"qbo.customer.merged.v1",'
        b'"time":"2026-05-10T21:31:25Z","intuitentityid":"58","intuitaccountid":"7",'
        b'"data":{"deletedId":"59"}}]'
    )
    (notice,) = QuickBooks.parse_webhook(body)
    assert (notice.operation, notice.merged_from, notice.entity) == ("Merge", "59", Entity.CUSTOMER)


def test_incomplete_events_are_set_aside_with_the_reason_not_fatal():
    body = (
        b'[{"id":"x1","type":"qbo.invoice.updated.v1","intuitentityid":"1"},'
        b'{"id":"x2","type":"other.thing","intuitentityid":"1","intuitaccountid":"2"},'
        b'"junk",'
        b'{"id":"x3","type":"qbo.invoice.updated.v1","intuitentityid":"9","intuitaccountid":"2"}]'
    )
    notices = QuickBooks.parse_webhook(body)
    assert [n.dedupe_key for n in notices if n.rejected is None] == ["x3"]
    assert [(n.tenant_external_id, n.external_id, n.rejected) for n in notices if n.rejected] == [
        ("", "1", "intuitaccountid must be a non-empty string, not None"),
        ("2", "1", "type must read qbo.<entity>.<operation>.v1, not 'other.thing'"),
        ("", "", "the event is a JSON str, not an object"),
    ]


def test_empty_bodies_of_either_shape_give_no_notices():
    assert QuickBooks.parse_webhook(b"[]") == []
    assert QuickBooks.parse_webhook(b'{"eventNotifications": []}') == []


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage"])
def test_malformed_json_raises_a_clear_value_error(body):
    with pytest.raises(ValueError, match="not valid JSON"):
        QuickBooks.parse_webhook(body)


def test_unknown_envelope_raises_value_error():
    with pytest.raises(ValueError, match="neither a CloudEvents array"):
        QuickBooks.parse_webhook(b'{"hello": "world"}')
