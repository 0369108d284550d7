"""A third provider is one folder: Third Books (tests/providers/third/), registered only here,
appears on the connect page, gets its webhook route and is synced into the mirror, with nothing
in core/, connector/ or sync/ naming it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC
from datetime import date
from datetime import datetime
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

import providers
from connector import create_app
from core.context import JobContext
from core.db import session_scope
from core.models import Customer
from core.models import Invoice
from core.models import OAuthGrant
from core.models import Organization
from core.models import WebhookEvent
from core.settings import Settings
from core.tokens import TokenCipher
from core.tokens import store_token
from providers.base import CustomerRecord
from providers.base import Entity
from providers.base import InvoiceRecord
from sync.jobs import run_sync
from tests.conftest import dunwell_env
from tests.connector.conftest import sign_in
from tests.connector.test_webhooks import drain_inbox
from tests.providers import third

THIRD_ENV = {
    "THIRD_CLIENT_ID": "third-client",
    "THIRD_CLIENT_SECRET": "third-secret",
    "THIRD_REDIRECT_URI": "http://localhost/oauth/third/callback",
    "THIRD_WEBHOOK_KEY": "third-webhook-key",
    "THIRD_AUTHORIZE_URL": "https://login.third.test/authorize",
}
WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def registered() -> Iterator[None]:
    providers.register("third", "tests.providers.third", "ThirdBooks", "Third Books")
    yield
    providers.unregister("third")
    for records in third.LEDGER.values():
        records.clear()


@pytest.fixture
def third_settings(registered, tmp_path, database_url) -> Settings:
    env = dunwell_env(tmp_path, DATABASE_URL=database_url, **THIRD_ENV)
    return Settings.from_env(env).with_changes(testing=True)


@pytest.fixture
def app(third_settings, redis) -> Iterator[Flask]:
    app = create_app(third_settings)
    yield app
    app.extensions["dunwell"]["engine"].dispose()


def connected_org(settings: Settings, sessions) -> int:
    with session_scope(sessions) as session:
        grant = OAuthGrant(provider="third", token_ciphertext="")
        token = {"access_token": "a", "refresh_token": "r", "expires_at": 4_102_444_800}
        store_token(grant, token, TokenCipher(settings.token_encryption_keys))
        session.add(grant)
        session.flush()
        org = Organization(
            provider="third",
            external_id="L1",
            name="Third Ledger",
            timezone="UTC",
            grant_id=grant.id,
            status="connected",
        )
        session.add(org)
        session.flush()
        return org.id


def test_its_settings_are_read_by_its_own_config_module(third_settings):
    config = third_settings.provider("third")
    assert config.configured and config.webhook_key == "third-webhook-key"
    assert providers.setup_variables("third")[0] == "THIRD_CLIENT_ID"


def test_the_connect_page_offers_it_and_sends_people_to_its_consent_page(app, session_factory):
    client = app.test_client()
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert "Connect to Third Books" in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/connect/third", data={"csrf_token": token})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://login.third.test/authorize?")
    assert "client_id=third-client" in location and "ledger.read" in location


def test_its_webhooks_are_checked_and_recorded(app, third_settings, session_factory):
    org_id = connected_org(third_settings, session_factory)
    body = json.dumps([{"ledger": "L1", "entity": "invoice", "id": "I1", "seq": 1}]).encode()
    client = app.test_client()
    forged = client.post("/webhooks/third", data=body, headers={third.SIGNATURE: "forged"})
    assert forged.status_code == 401
    signature = third.sign(body, "third-webhook-key")
    assert (
        client.post("/webhooks/third", data=body, headers={third.SIGNATURE: signature}).status_code
        == 200
    )
    drain_inbox(app)
    with session_scope(session_factory) as session:
        events = session.scalars(select(WebhookEvent)).all()
        assert [(e.provider, e.organization_id, e.external_id) for e in events] == [
            ("third", org_id, "I1")
        ]


def test_the_sync_mirrors_its_ledger(third_settings, session_factory, redis):
    org_id = connected_org(third_settings, session_factory)
    third.LEDGER[Entity.CUSTOMER]["C1"] = CustomerRecord(
        external_id="C1", version="1", updated_at=WHEN, name="Acme", currency="USD"
    )
    third.LEDGER[Entity.INVOICE]["I1"] = InvoiceRecord(
        external_id="I1",
        version="1",
        updated_at=WHEN,
        customer_id="C1",
        number="T-1",
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        currency="USD",
        total=Decimal("120.50"),
        balance=Decimal("120.50"),
    )
    run_sync(JobContext(third_settings, session_factory, redis), org_id)
    with session_scope(session_factory) as session:
        customer = session.scalars(select(Customer).where(Customer.organization_id == org_id)).one()
        invoice = session.scalars(select(Invoice).where(Invoice.organization_id == org_id)).one()
        assert (customer.external_id, customer.name) == ("C1", "Acme")
        assert (invoice.external_id, invoice.balance) == ("I1", Decimal("120.50"))
