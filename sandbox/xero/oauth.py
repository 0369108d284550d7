"""Xero identity under /xero: the consent page, token and revocation endpoints, /connections
(also as /Connections, the path in Xero's identity OpenAPI and its SDKs).

The consent page asks who signs in (sandbox.oidc.users) and, when accounting scopes are asked
for, which organisations to connect; a sign-in alone (`openid profile email`) connects none.
OpenID Connect's discovery, JWKS and userinfo are in sandbox.oidc.xero.

Xero's callback carries only `code`, `scope`, `state` and `session_state`, never a tenant id:
the client asks `GET /connections` which organisations the consent covered. Apps created after
2 March 2026 may not request the retired broad scopes (`accounting.transactions`,
`accounting.reports.read`); such requests come back with `error=invalid_scope`.
"""

from __future__ import annotations

import base64
import secrets
from importlib.resources import files
from urllib.parse import unquote
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import redirect
from flask import render_template_string
from flask import request
from werkzeug.wrappers import Response as BaseResponse

from sandbox import oidc
from sandbox.xero import dates
from sandbox.xero import gate
from sandbox.xero.grants import OAuthError
from sandbox.xero.responses import json_response
from sandbox.xero.responses import problem
from sandbox.xero.state import current
from sandbox.xero.state import current_store

bp = Blueprint("xero_identity", __name__, url_prefix="/xero")

FAMILIES = (
    "accounting.invoices",
    "accounting.payments",
    "accounting.banktransactions",
    "accounting.manualjournals",
    "accounting.contacts",
    "accounting.settings",
    "accounting.attachments",
)
REPORTS = (
    "aged",
    "balancesheet",
    "banksummary",
    "budgetsummary",
    "executivesummary",
    "profitandloss",
    "taxreports",
    "trialbalance",
)
ALLOWED_SCOPES = frozenset(
    {
        "offline_access",
        "openid",
        "profile",
        "email",
        "accounting.journals.read",
        "accounting.budgets.read",
        *FAMILIES,
        *(f"{f}.read" for f in FAMILIES),
        *(f"accounting.reports.{r}.read" for r in REPORTS),
    }
)
CONSENT_PAGES = ("xero_identity.authorize", "xero_identity.approve")


@bp.before_request
def before() -> BaseResponse | None:
    return gate.take_fault(consent_page=request.endpoint in CONSENT_PAGES)


@bp.after_request
def after(response: Response) -> BaseResponse:
    return gate.finish(response)


def _scope_error(scope: str) -> str | None:
    scopes = scope.split()
    if not scopes:
        return "scope is required"
    unknown = [s for s in scopes if s not in ALLOWED_SCOPES]
    return f"invalid or retired scope(s): {' '.join(unknown)}" if unknown else None


def _back(redirect_uri: str, **params: str) -> BaseResponse:
    joiner = "&" if "?" in redirect_uri else "?"
    clean = {key: value for key, value in params.items() if value}
    return redirect(f"{redirect_uri}{joiner}{urlencode(clean)}", code=302)


def _check_request(form: dict[str, str]) -> BaseResponse | None:
    """An error page, an error redirect, or None when the request may proceed."""
    redirect_uri = form.get("redirect_uri", "")
    if form.get("client_id") != current().config.xero_client_id:
        return Response("unauthorized_client: unknown client_id", 400, content_type="text/plain")
    if not redirect_uri.startswith(("http://", "https://")):
        return Response("invalid_request: redirect_uri", 400, content_type="text/plain")
    state = form.get("state", "")
    if form.get("response_type", "code") != "code":
        return _back(redirect_uri, error="unsupported_response_type", state=state)
    error = _scope_error(form.get("scope", ""))
    if error:
        return _back(redirect_uri, error="invalid_scope", error_description=error, state=state)
    if form.get("code_challenge_method", "") not in ("", "S256", "plain"):
        return _back(redirect_uri, error="invalid_request", state=state)
    return None


def _consent_page(form: dict[str, str], error: str = "", status: int = 200) -> BaseResponse:
    template = files("sandbox.xero").joinpath("consent.html").read_text(encoding="utf-8")
    orgs = [ledger.org for ledger in current_store().ledgers.values()]
    fields = {
        name: form.get(name, "")
        for name in (
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
            "nonce",
        )
    }
    if not _connects(form.get("scope", "")):
        orgs = []
    users = oidc.current().users.all()
    page = render_template_string(template, orgs=orgs, users=users, error=error, **fields)
    return Response(page, status)


def _connects(scope: str) -> bool:
    """Does the request ask for organisation data (not only a sign-in)?"""
    return any(s.startswith("accounting.") for s in scope.split())


@bp.get("/identity/connect/authorize")
def authorize() -> BaseResponse:
    form = request.args.to_dict()
    return _check_request(form) or _consent_page(form)


@bp.post("/identity/connect/authorize/approve")
def approve() -> BaseResponse:
    form = request.form.to_dict()
    failure = _check_request(form)
    if failure is not None:
        return failure
    if request.form.get("action") != "allow":
        return _back(form["redirect_uri"], error="access_denied", state=form.get("state", ""))
    user = oidc.current().users.get(form.get("user"))
    if user is None:
        return _consent_page(form, "Choose who is signing in.", 400)
    ledgers = current_store().ledgers
    chosen = request.form.getlist("tenant") if _connects(form["scope"]) else []
    if _connects(form["scope"]) and (not chosen or any(t not in ledgers for t in chosen)):
        return _consent_page(form, "Choose at least one organisation.", 400)
    tenants = [(tenant, ledgers[tenant].org.name) for tenant in chosen]
    code = current().auth.approve(
        form["scope"].split(),
        form["redirect_uri"],
        tenants,
        form.get("code_challenge", ""),
        form.get("code_challenge_method", "") or "plain",
        user_id=user.xero_userid,
        nonce=form.get("nonce", ""),
    )
    return _back(
        form["redirect_uri"],
        code=code,
        scope=form["scope"],
        state=form.get("state", ""),
        session_state=secrets.token_urlsafe(24),
    )


def _client() -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            raw = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = raw.partition(":")
        return unquote(client_id), unquote(secret)
    return request.form.get("client_id"), request.form.get("client_secret")


def _token_error(error: str, status: int = 400) -> BaseResponse:
    return json_response({"error": error}, status)


@bp.post("/identity/connect/token")
def token() -> BaseResponse:
    auth = current().auth
    client_id, secret = _client()
    if not auth.client_ok(client_id, secret):
        return _token_error("invalid_client")
    grant_type = request.form.get("grant_type")
    try:
        if grant_type == "authorization_code":
            body = auth.exchange(
                request.form.get("code", ""),
                request.form.get("redirect_uri", ""),
                request.form.get("code_verifier"),
                confidential=secret is not None,
            )
        elif grant_type == "refresh_token":
            if current().faults.revoked("xero"):
                raise OAuthError("invalid_grant")
            body = auth.refresh(request.form.get("refresh_token", ""))
        else:
            return _token_error("unsupported_grant_type")
    except OAuthError as exc:
        return _token_error(exc.error)
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@bp.post("/identity/connect/revocation")
def revoke() -> BaseResponse:
    client_id, secret = _client()
    if secret is None or not current().auth.client_ok(client_id, secret):
        return _token_error("invalid_client")
    token_value = request.form.get("token")
    if not token_value:
        return _token_error("invalid_request")
    current().auth.revoke(token_value)
    return Response(status=200)


@bp.get("/connections")
@bp.get("/Connections")
def connections() -> BaseResponse:
    grant = gate.bearer()
    if isinstance(grant, Response):
        return grant
    decision = current().limiter.acquire(None)
    if decision.problem:
        return gate.too_many(decision)
    event = request.args.get("authEventId")
    rows = [
        {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": c.tenant_name,
            "createdDateUtc": dates.connection_string(c.created),
            "updatedDateUtc": dates.connection_string(c.created),
        }
        for c in sorted(current().auth.user_connections(grant), key=lambda c: c.created)
        if not event or c.auth_event_id == event
    ]
    return json_response(rows, headers=decision.headers)


@bp.delete("/connections/<connection_id>")
@bp.delete("/Connections/<connection_id>")
def delete_connection(connection_id: str) -> BaseResponse:
    grant = gate.bearer()
    if isinstance(grant, Response):
        return grant
    if not current().auth.delete_connection(grant, connection_id):
        return problem(404, "Not Found", "Connection not found")
    return Response(status=204)
