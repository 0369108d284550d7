"""Tokens: encrypted at rest, one refresh per grant across threads, dead grants marked."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from datetime import timedelta

import pytest
import responses
from cryptography.fernet import Fernet
from sqlalchemy import select

from core.db import session_scope
from core.db import utcnow
from core.models import OAuthGrant
from core.models import Organization
from core.tokens import GrantCredentials
from core.tokens import GrantDead
from core.tokens import TokenCipher
from core.tokens import authlib_refresher
from core.tokens import store_token

TOKEN_URL = "https://oauth.example.test/tokens"
KEY = Fernet.generate_key().decode()


class RotatingTokenEndpoint:
    """A token endpoint that rotates the refresh token on every use and refuses old ones."""

    def __init__(self, refresh_token: str):
        self.current = refresh_token
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        form = dict(urllib.parse.parse_qsl(request.body))
        with self.lock:
            self.calls += 1
            time.sleep(0.05)  # widen the race window
            if form.get("refresh_token") != self.current:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            self.current = f"refresh-{self.calls}"
            body = {
                "access_token": f"access-{self.calls}",
                "refresh_token": self.current,
                "token_type": "bearer",
                "expires_in": 3600,
            }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)


@pytest.fixture
def grant_id(session_factory) -> int:
    with session_scope(session_factory) as session:
        grant = OAuthGrant(provider="quickbooks", token_ciphertext="")
        store_token(
            grant,
            {"access_token": "access-0", "refresh_token": "refresh-0", "expires_in": 3600},
            TokenCipher((KEY,)),
        )
        session.add(grant)
        session.flush()
        session.add(Organization(provider="quickbooks", external_id="1", grant_id=grant.id))
        return grant.id


def credentials(grant_id, session_factory, redis) -> GrantCredentials:
    return GrantCredentials(
        grant_id,
        session_factory,
        TokenCipher((KEY,)),
        redis,
        authlib_refresher("client", "secret", TOKEN_URL),
    )


def test_tokens_are_encrypted_at_rest_and_keys_rotate(session_factory, grant_id):
    with session_scope(session_factory) as session:
        ciphertext = session.get(OAuthGrant, grant_id).token_ciphertext
    assert "access-0" not in ciphertext and "refresh-0" not in ciphertext
    rotated = TokenCipher((Fernet.generate_key().decode(), KEY))
    assert rotated.decrypt(ciphertext)["refresh_token"] == "refresh-0"
    rewritten = rotated.rotate(ciphertext)
    assert rotated.decrypt(rewritten)["access_token"] == "access-0"
    with pytest.raises(GrantDead):
        TokenCipher((KEY,)).decrypt(rewritten)  # re-encrypted with the new key only


@responses.activate
def test_concurrent_refresh_calls_the_provider_once(session_factory, redis, grant_id):
    endpoint = RotatingTokenEndpoint("refresh-0")
    responses.add_callback(responses.POST, TOKEN_URL, callback=endpoint)
    results: list[str] = []
    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            results.append(credentials(grant_id, session_factory, redis).refreshed("access-0"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert endpoint.calls == 1
    assert results == ["access-1"] * 8
    stored = credentials(grant_id, session_factory, redis).token()
    assert (stored["access_token"], stored["refresh_token"]) == ("access-1", "refresh-1")


@responses.activate
def test_expired_access_token_is_refreshed_before_use(session_factory, redis, grant_id):
    endpoint = RotatingTokenEndpoint("refresh-0")
    responses.add_callback(responses.POST, TOKEN_URL, callback=endpoint)
    with session_scope(session_factory) as session:
        grant = session.get(OAuthGrant, grant_id)
        token = TokenCipher((KEY,)).decrypt(grant.token_ciphertext)
        token["expires_at"] = (utcnow() - timedelta(minutes=1)).timestamp()
        store_token(grant, token, TokenCipher((KEY,)))
    assert credentials(grant_id, session_factory, redis).access_token() == "access-1"
    assert endpoint.calls == 1


@responses.activate
def test_a_dead_refresh_token_marks_the_organization_needs_reconnect(
    session_factory, redis, grant_id
):
    responses.add(responses.POST, TOKEN_URL, json={"error": "invalid_grant"}, status=400)
    with pytest.raises(GrantDead):
        credentials(grant_id, session_factory, redis).refreshed("access-0")
    with session_scope(session_factory) as session:
        assert session.get(OAuthGrant, grant_id).status == "needs_reconnect"
        org = session.scalar(select(Organization))
        assert org.status == "needs_reconnect"
    with pytest.raises(GrantDead):
        credentials(grant_id, session_factory, redis).access_token()


@responses.activate
def test_refusal_after_a_sibling_rotated_uses_the_sibling_token(session_factory, redis, grant_id):
    def sibling_rotates_then_refused(request):
        with session_scope(session_factory) as session:
            grant = session.get(OAuthGrant, grant_id)
            store_token(
                grant,
                {"access_token": "access-sib", "refresh_token": "refresh-sib", "expires_in": 3600},
                TokenCipher((KEY,)),
            )
        return 400, {}, json.dumps({"error": "invalid_grant"})

    responses.add_callback(responses.POST, TOKEN_URL, callback=sibling_rotates_then_refused)
    assert credentials(grant_id, session_factory, redis).refreshed("access-0") == "access-sib"
    with session_scope(session_factory) as session:
        assert session.get(OAuthGrant, grant_id).status == "active"


def _store(session_factory, grant_id, access: str) -> None:
    with session_scope(session_factory) as session:
        grant = session.get(OAuthGrant, grant_id)
        token = {"access_token": access, "refresh_token": "refresh-0", "expires_in": 3600}
        store_token(grant, token, TokenCipher((KEY,)))


def test_a_client_reuses_the_row_it_read_for_a_while_and_rereads_it_when_rejected(
    session_factory, redis, grant_id
):
    creds = credentials(grant_id, session_factory, redis)
    assert creds.access_token() == "access-0"
    _store(session_factory, grant_id, "access-by-another-worker")
    assert creds.access_token() == "access-0"  # still good: not read again within 30 s
    # the provider refused access-0: the row is read afresh, and holds another worker's refresh
    assert creds.refreshed("access-0") == "access-by-another-worker"
    assert creds.access_token() == "access-by-another-worker"


def test_the_row_is_read_again_once_the_reuse_time_is_over(session_factory, redis, grant_id):
    creds = GrantCredentials(
        grant_id,
        session_factory,
        TokenCipher((KEY,)),
        redis,
        authlib_refresher("client", "secret", TOKEN_URL),
        reuse_seconds=0.2,
    )
    assert creds.access_token() == "access-0"
    with session_scope(session_factory) as session:
        session.get(OAuthGrant, grant_id).status = "needs_reconnect"
    assert creds.access_token() == "access-0"
    time.sleep(0.25)
    with pytest.raises(GrantDead):
        creds.access_token()
