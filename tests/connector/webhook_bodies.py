"""Hypothesis strategies for webhook deliveries of both providers, hostile parts included.

Each body holds well-formed events mixed with events whose fields are of the wrong type, hold
unpaired surrogates or NULs, carry timestamps at or past the ends of datetime's range, or nest
a thousand levels deep (tests.hostile).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.hostile import JUNK
from tests.hostile import maybe

QBO_REALMS = ("9130", "4620")
XERO_TENANTS = ("c2cc9b6e-9458-4c7d-93cc-f02b81b0594f", "0d3b2b3e-0b5e-4f43-b2d7-b0c1c0e0a001")
TIMESTAMPS = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:59:59.9999999Z",
            "/Date(99999999999999999)/",
            "/Date(-99999999999999999+1300)/",
            "/Date(1518739200000+1300)/",
            "2026-11-20T17:00:01.123Z",
            "last tuesday",
        ]
    ),
    st.integers(min_value=-(2**64), max_value=2**64).map(lambda n: f"/Date({n})/"),
)
IDS = st.one_of(st.integers(1, 10**6).map(str), st.uuids().map(str))


def qbo_cloud_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "specversion": st.just("1.0"),
            "id": maybe(st.uuids().map(str)),
            "source": st.just("intuit.test"),
            "type": maybe(
                st.sampled_from(["customer", "invoice", "payment", "creditmemo", "vendor"]).flatmap(
                    lambda e: st.sampled_from(
                        ["created", "updated", "deleted", "merged", "voided"]
                    ).map(lambda op: f"qbo.{e}.{op}.v1")
                )
            ),
            "time": maybe(TIMESTAMPS),
            "intuitentityid": maybe(IDS),
            "intuitaccountid": maybe(st.sampled_from(QBO_REALMS)),
            "data": maybe(st.fixed_dictionaries({}, optional={"deletedId": maybe(IDS)})),
        },
        optional={"extensions": JUNK},
    )


def qbo_classic_entities() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "name": maybe(
                st.sampled_from(["Invoice", "Payment", "Customer", "CreditMemo", "Bill"])
            ),
            "id": maybe(IDS),
            "operation": maybe(st.sampled_from(["Create", "Update", "Delete", "Merge", "Void"])),
            "lastUpdated": maybe(TIMESTAMPS),
        },
        optional={"deletedId": maybe(IDS)},
    )


def qbo_bodies() -> st.SearchStrategy[Any]:
    classic = st.fixed_dictionaries(
        {
            "eventNotifications": st.lists(
                st.fixed_dictionaries(
                    {
                        "realmId": maybe(st.sampled_from(QBO_REALMS)),
                        "dataChangeEvent": maybe(
                            st.fixed_dictionaries(
                                {"entities": st.lists(maybe(qbo_classic_entities()), max_size=4)}
                            )
                        ),
                    }
                ),
                max_size=3,
            )
        }
    )
    cloud = st.lists(maybe(qbo_cloud_events()), max_size=5)
    return st.one_of(classic, cloud, qbo_cloud_events(), JUNK)


def xero_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "resourceUrl": st.just("https://api.xero.com/api.xro/2.0/Invoices/x"),
            "resourceId": maybe(st.uuids().map(str)),
            "eventDateUtc": maybe(TIMESTAMPS),
            "eventType": maybe(st.sampled_from(["CREATE", "UPDATE"])),
            "eventCategory": maybe(
                st.sampled_from(["INVOICE", "CONTACT", "CREDITNOTE", "SUBSCRIPTION"])
            ),
            "tenantId": maybe(st.sampled_from(XERO_TENANTS)),
            "tenantType": st.just("ORGANISATION"),
        },
        optional={"data": maybe(st.fixed_dictionaries({"Type": maybe(st.just("ACCPAYCREDIT"))}))},
    )


def xero_bodies() -> st.SearchStrategy[Any]:
    envelope = st.fixed_dictionaries(
        {
            "events": st.lists(maybe(xero_events()), max_size=5),
            "firstEventSequence": maybe(st.integers(0, 10)),
            "lastEventSequence": maybe(st.integers(0, 10)),
            "entropy": maybe(st.text(max_size=10)),
        }
    )
    return st.one_of(envelope, envelope, JUNK)
