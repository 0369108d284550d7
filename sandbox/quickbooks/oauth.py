"""Intuit's OAuth 2.0 endpoints: consent page, token endpoint and revocation.

GET  /qbo/connect/oauth2                 consent page (who signs in; a company to connect when
                                         the accounting scope is asked for; Approve or Deny)
POST /qbo/connect/oauth2/approve         302 to redirect_uri?code=&state=[&realmId=]
POST /qbo/oauth2/v1/tokens/bearer        authorization_code / refresh_token (HTTP Basic or
                                         form); the code's answer carries an id_token under
                                         `openid`
POST /qbo/v2/oauth2/tokens/revoke        {"token": ...} (HTTP Basic)

OpenID Connect's discovery, JWKS and userinfo are in sandbox.oidc.intuit.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import redirect
from flask import render_template_string
from flask import request
from werkzeug.wrappers import Response as BaseResponse

from sandbox import oidc
from sandbox.oidc import intuit as intuit_oidc
from sandbox.quickbooks import state as gate
from sandbox.quickbooks.grants import GrantError
from sandbox.quickbooks.state import QboState
from sandbox.quickbooks.state import current

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect to QuickBooks (sandbox)</title>
<style>body{font-family:sans-serif;max-width:36rem;margin:3rem auto}
label{display:block;margin:.4rem 0} button{margin-right:1rem;padding:.4rem 1.2rem}</style></head>
<body><h1>QuickBooks sandbox</h1>
<p>An app (<code>{{ client_id }}</code>) wants access to: <code>{{ scope }}</code></p>
<form method="post" action="{{ action }}">
<fieldset><legend>Who is signing in to Intuit?</legend>
{% for user in users %}<label>
 <input type="radio" name="user" value="{{ user.key }}" {% if loop.first %}checked{% endif %}>
 {{ user.name }} ({{ user.email }})</label>
{% endfor %}</fieldset>
{% if companies %}<fieldset><legend>Which company do you want to connect?</legend>
{% for company in companies %}<label>
 <input type="radio" name="realm_id" value="{{ company.realm_id }}"
  {% if loop.first %}checked{% endif %}>
 {{ company.name }} ({{ company.currency }}, {{ company.realm_id }})</label>
{% endfor %}</fieldset>{% endif %}
<input type="hidden" name="client_id" value="{{ client_id }}">
<input type="hidden" name="redirect_uri" value="{{ redirect_uri }}">
<input type="hidden" name="state" value="{{ state }}">
<input type="hidden" name="scope" value="{{ scope }}">
<input type="hidden" name="nonce" value="{{ nonce }}">
<p><button type="submit" name="decision" value="approve" id="approve">
{%- if companies %}Connect{% else %}Sign in{% endif %}</button>
<button type="submit" name="decision" value="deny" id="deny">Cancel</button></p>
</form></body></html>"""
ERROR_PAGE = "<!doctype html><title>Error</title><h1>Request rejected</h1><p>{{ message }}</p>"


def _error_page(message: str) -> Response:
    return Response(render_template_string(ERROR_PAGE, message=message), status=400)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _token_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    return response


def _client_ok(state: QboState, form_allowed: bool = False) -> bool:
    """HTTP Basic, or (`form_allowed`, the token endpoint) client_id and client_secret in the
    form body: Intuit's discovery document lists both client_secret_basic and
    client_secret_post."""
    auth = request.authorization
    if auth and auth.type == "basic":
        client_id, secret = auth.username or "", auth.password or ""
    elif form_allowed and not request.headers.get("Authorization"):
        client_id = request.form.get("client_id", "")
        secret = request.form.get("client_secret", "")
    else:
        return False
    config = state.config
    return _same(client_id, config.intuit_client_id) and _same(secret, config.intuit_client_secret)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _check_authorize(state: QboState, values: Any) -> str | None:
    if values.get("client_id") != state.config.intuit_client_id:
        return "Unknown client_id."
    redirect_uri = values.get("redirect_uri", "")
    if urlsplit(redirect_uri).scheme not in ("http", "https"):
        return "redirect_uri must be an absolute http(s) URL."
    if not values.get("scope"):
        return "scope is required."
    return None


def _gate() -> Response | None:
    refused = gate.begin(current())
    if not refused:
        gate.slow_down()
    return refused


def authorize() -> Response | str:
    state = current()
    problem = _check_authorize(state, request.args)
    if problem is None and request.args.get("response_type") != "code":
        problem = "response_type must be 'code'."
    if problem:
        return _error_page(problem)
    companies = [
        {"realm_id": c.realm_id, "name": c.name, "currency": c.currency}
        for c in state.store.companies.values()
    ]
    if ACCOUNTING_SCOPE not in request.args["scope"].split():
        companies = []  # a sign-in only: nothing to connect
    return render_template_string(
        CONSENT_PAGE,
        users=oidc.current().users.all(),
        companies=companies,
        nonce=request.args.get("nonce", ""),
        action=request.script_root + "/qbo/connect/oauth2/approve",
        client_id=request.args["client_id"],
        redirect_uri=request.args["redirect_uri"],
        state=request.args.get("state", ""),
        scope=request.args["scope"],
    )


def approve() -> BaseResponse:
    state, form = current(), request.form
    problem = _check_authorize(state, form)
    if problem:
        return _error_page(problem)
    if form.get("decision") != "approve":
        denied = {"error": "access_denied", "state": form.get("state", "")}
        return redirect(_with_query(form["redirect_uri"], denied))
    user = oidc.current().users.get(form.get("user"))
    if user is None:
        return _error_page("Choose who is signing in.")
    connects = ACCOUNTING_SCOPE in form["scope"].split()
    realm_id = form.get("realm_id", "") if connects else ""
    if connects and realm_id not in state.store.companies:
        return _error_page("Choose a company to connect.")
    code = state.grants.issue_code(
        realm_id, form["redirect_uri"], form["scope"], user.key, form.get("nonce", "")
    )
    params = {"code": code, "state": form.get("state", "")}
    if connects:
        params["realmId"] = realm_id
    return redirect(_with_query(form["redirect_uri"], params))


def token() -> Response:
    state = current()
    if not _client_ok(state, form_allowed=True):
        return _token_error("invalid_client", "client authentication failed", 401)
    form, grant_type = request.form, request.form.get("grant_type")
    try:
        if grant_type == "authorization_code":
            issued = state.grants.exchange_code(form.get("code", ""), form.get("redirect_uri", ""))
        elif grant_type == "refresh_token":
            issued = state.grants.refresh(
                form.get("refresh_token", ""),
                lambda realm_id: state.faults.revoked(gate.PROVIDER, realm_id),
            )
        else:
            return _token_error("unsupported_grant_type", f"grant_type {grant_type!r}")
    except GrantError as exc:
        return _token_error(exc.error, exc.description, exc.status)
    hard = issued.pop("_hard_expires_in")
    grant = issued.pop("_grant", None)
    if grant is not None and "openid" in grant.scope.split():
        issued["id_token"] = _id_token(state, grant)
    if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
        issued["x_refresh_token_hard_expires_in"] = hard
    response = jsonify(issued)
    response.headers["Cache-Control"] = "no-store"
    return response


def _id_token(state: QboState, grant: Any) -> str:
    user = oidc.current().users.get(grant.user_key)
    if user is None:
        raise LookupError(f"the sandbox has no user {grant.user_key!r} to sign an id token for")
    scopes = grant.scope.split()
    return intuit_oidc.id_token(
        user, state.config.intuit_client_id, grant.realm_id, scopes, grant.nonce
    )


def revoke() -> Response:
    state = current()
    if not _client_ok(state):
        return _token_error("invalid_client", "client authentication failed", 401)
    body = request.get_json(silent=True) or request.form
    value = (body or {}).get("token", "")
    if not value:
        return _token_error("invalid_request", "token is required")
    state.grants.revoke(value)
    return Response(status=200)


def blueprint(state: QboState) -> Blueprint:
    bp = Blueprint("qbo_oauth", __name__, url_prefix="/qbo")
    bp.before_request(_gate)
    bp.after_request(lambda response: gate.finish(state, response))
    bp.add_url_rule("/connect/oauth2", "authorize", authorize, methods=["GET"])
    bp.add_url_rule("/connect/oauth2/approve", "approve", approve, methods=["POST"])
    bp.add_url_rule("/oauth2/v1/tokens/bearer", "token", token, methods=["POST"])
    bp.add_url_rule("/v2/oauth2/tokens/revoke", "revoke", revoke, methods=["POST"])
    return bp
