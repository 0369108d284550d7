"""The sandbox's OpenID Connect over real HTTP, as a client sees it: both providers' discovery
documents at their published paths, their JWKS, RS256 id_tokens with the providers' own claims
(checked here with joserfc against the JWKS, as any client would), userinfo, the person chosen
on the consent page, and the id_token faults tests arm."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from demo.browser import form_data
from demo.browser import forms
from tests.servers import sandbox_server

REDIRECT = "http://localhost/oauth/callback"
CLIENTS = {
    "quickbooks": ("test-intuit-client", "test-intuit-secret"),
    "xero": ("test-xero-client", "test-xero-secret"),
}
DISCOVERY = {
    "quickbooks": "/qbo/.well-known/openid_sandbox_configuration/",
    "xero": "/xero/identity/.well-known/openid-configuration",
}
SIGN_IN = "openid email profile"
CONNECT = {
    "quickbooks": "com.intuit.quickbooks.accounting openid email profile",
    "xero": "offline_access openid profile email accounting.invoices",
}


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_server() as url:
        yield url


@pytest.fixture(autouse=True)
def no_faults(sandbox):
    yield
    requests.delete(f"{sandbox}/_sandbox/oidc/faults", timeout=10)


def discovery(sandbox: str, provider: str) -> dict:
    answer = requests.get(sandbox + DISCOVERY[provider], timeout=10)
    assert answer.status_code == 200
    return answer.json()


def sign_in(sandbox, provider, scope=SIGN_IN, nonce="n-0S6_WzA2Mj", user=None) -> tuple:
    """Consent as `user` (a sandbox user's key; default the first); returns (token response,
    callback query)."""
    meta = discovery(sandbox, provider)
    client_id, secret = CLIENTS[provider]
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": scope,
        "redirect_uri": REDIRECT,
        "state": "st4te",
        "nonce": nonce,
    }
    page = requests.get(meta["authorization_endpoint"], params=params, timeout=10)
    assert page.status_code == 200, page.text
    form = [f for f in forms(page.text) if f["method"] == "post"][0]
    data = form_data(form, ("allow", "approve"))
    if user is not None:
        data = [(k, v) for k, v in data if k != "user"] + [("user", user)]
    answer = requests.post(
        urljoin(page.url, form["action"]), data=data, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    token = requests.post(
        meta["token_endpoint"],
        data={"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT},
        auth=(client_id, secret),
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return token.json(), query


def verified(sandbox, provider, id_token: str) -> tuple[dict, dict]:
    """(header, claims) of `id_token`, its signature checked against the provider's JWKS."""
    keys = KeySet.import_key_set(requests.get(discovery(sandbox, provider)["jwks_uri"]).json())
    decoded = jwt.decode(id_token, keys, algorithms=["RS256"])
    return decoded.header, decoded.claims


def users(sandbox) -> list[dict]:
    return requests.get(f"{sandbox}/_sandbox/users", timeout=10).json()["users"]


@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
def test_discovery_documents_point_at_working_endpoints(sandbox, provider):
    meta = discovery(sandbox, provider)
    assert meta["issuer"].startswith(sandbox)
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(
        meta["token_endpoint_auth_methods_supported"]
    )
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert meta[key].startswith(sandbox), key
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    [key] = jwks["keys"]
    assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256  # 2048-bit modulus


def test_the_published_paths_and_shapes(sandbox):
    intuit = discovery(sandbox, "quickbooks")
    assert intuit["issuer"] == f"{sandbox}/qbo/op/v1"
    assert intuit["jwks_uri"] == f"{sandbox}/qbo/op/v1/jwks"
    assert intuit["claims_supported"] == ["aud", "exp", "iat", "iss", "realmid", "sub"]
    production = requests.get(f"{sandbox}/qbo/.well-known/openid_configuration/", timeout=10)
    assert production.json()["issuer"] == intuit["issuer"]
    xero = discovery(sandbox, "xero")
    assert xero["issuer"] == f"{sandbox}/xero/identity"
    assert xero["jwks_uri"] == f"{sandbox}/xero/identity/.well-known/openid-configuration/jwks"
    assert xero["userinfo_endpoint"] == f"{sandbox}/xero/identity/connect/userinfo"
    [key] = requests.get(xero["jwks_uri"], timeout=10).json()["keys"]
    assert len(key["kid"]) == 40 and key["kid"] == key["kid"].upper() and key["x5t"]


def test_an_intuit_sign_in_id_token_and_userinfo(sandbox):
    person = users(sandbox)[1]
    token, query = sign_in(sandbox, "quickbooks", user=person["key"])
    assert "realmId" not in query  # a sign-in connects no company
    header, claims = verified(sandbox, "quickbooks", token["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == f"{sandbox}/qbo/op/v1"
    assert claims["aud"] == ["test-intuit-client"]
    assert claims["sub"] == person["intuit_sub"] and claims["nonce"] == "n-0S6_WzA2Mj"
    assert (claims["email"], claims["email_verified"]) == (person["email"], True)
    assert "realmid" not in claims
    assert claims["iat"] <= time.time() < claims["exp"] == claims["iat"] + 3600
    info = requests.get(
        discovery(sandbox, "quickbooks")["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert info == {
        "sub": person["intuit_sub"],
        "email": person["email"],
        "emailVerified": True,
        "givenName": person["given_name"],
        "familyName": person["family_name"],
    }


def test_an_intuit_connection_carries_the_realm_in_the_id_token(sandbox):
    token, query = sign_in(sandbox, "quickbooks", scope=CONNECT["quickbooks"])
    _, claims = verified(sandbox, "quickbooks", token["id_token"])
    assert claims["realmid"] == query["realmId"]


def test_a_xero_sign_in_id_token_and_userinfo(sandbox):
    person = users(sandbox)[2]
    token, _ = sign_in(sandbox, "xero", user=person["key"], nonce="xero-nonce")
    header, claims = verified(sandbox, "xero", token["id_token"])
    assert header["kid"] and header["x5t"]
    assert claims["iss"] == f"{sandbox}/xero/identity" and claims["aud"] == "test-xero-client"
    assert claims["xero_userid"] == person["xero_userid"]
    assert claims["sub"] == person["xero_userid"].replace("-", "")
    assert (claims["email"], claims["given_name"], claims["family_name"]) == (
        person["email"],
        person["given_name"],
        person["family_name"],
    )
    assert claims["nonce"] == "xero-nonce" and claims["exp"] - claims["iat"] == 300
    digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    _, access = verified(sandbox, "xero", token["access_token"])  # signed by the same key
    assert access["xero_userid"] == person["xero_userid"]
    connections = requests.get(
        f"{sandbox}/xero/connections",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert connections == []  # a sign-in connects no organisation
    info = requests.get(
        discovery(sandbox, "xero")["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    ).json()
    assert info["xero_userid"] == person["xero_userid"] and info["email"] == person["email"]


@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
def test_userinfo_needs_a_live_token(sandbox, provider):
    answer = requests.get(
        discovery(sandbox, provider)["userinfo_endpoint"],
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )
    assert answer.status_code == 401 and "invalid_token" in answer.headers["WWW-Authenticate"]


def test_people_added_through_the_control_api_can_sign_in(sandbox):
    added = requests.post(
        f"{sandbox}/_sandbox/users",
        json={"email": "Dana.Lee@Example.com", "given_name": "Dana", "family_name": "Lee"},
        timeout=10,
    )
    assert added.status_code == 201
    person = added.json()
    assert person["email"] == "dana.lee@example.com"
    token, _ = sign_in(sandbox, "xero", user=person["key"])
    assert verified(sandbox, "xero", token["id_token"])[1]["email"] == "dana.lee@example.com"
    bad = requests.post(f"{sandbox}/_sandbox/users", json={"email": "nope"}, timeout=10)
    assert bad.status_code == 400


@pytest.mark.parametrize("provider", ["quickbooks", "xero"])
def test_armed_faults_spoil_the_next_id_token(sandbox, provider):
    def arm(kind: str) -> None:
        answer = requests.post(
            f"{sandbox}/_sandbox/oidc/faults", json={"provider": provider, "kind": kind}, timeout=10
        )
        assert answer.status_code == 200, answer.text

    arm("forged")
    token, _ = sign_in(sandbox, provider)
    with pytest.raises(BadSignatureError):
        verified(sandbox, provider, token["id_token"])
    arm("expired")
    token, _ = sign_in(sandbox, provider)
    assert verified(sandbox, provider, token["id_token"])[1]["exp"] < time.time() - 3000
    arm("wrong_nonce")
    token, _ = sign_in(sandbox, provider, nonce="mine")
    assert verified(sandbox, provider, token["id_token"])[1]["nonce"] != "mine"
    token, _ = sign_in(sandbox, provider, nonce="mine")  # one fault, one token
    assert verified(sandbox, provider, token["id_token"])[1]["nonce"] == "mine"
    refused = requests.post(
        f"{sandbox}/_sandbox/oidc/faults", json={"provider": provider, "kind": "?"}, timeout=10
    )
    assert refused.status_code == 400
