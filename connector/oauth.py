"""Connect, reconnect, disconnect and purge, over OAuth 2.0 (Authlib's requests client), and the
one callback per provider that both connecting and signing in (connector.signin) come back to.

The callback checks the `state` it issued. Connecting also asks for OpenID Connect (`openid email
profile`) with a `nonce`: the id_token is verified (connector.oidc), and a browser nobody has
signed in to yet (the first connection of a fresh install, or a newcomer) is signed in as the
person who consented. That person becomes an admin of the organizations connected: connecting
proves they administer the company at the provider. The callback then stores the token
encrypted, asks the provider which organizations the grant covers, and enqueues their first
sync. Disconnecting revokes access at the provider (for Xero, removes only that organization's
connection when the grant serves others) and keeps the mirror until the admin purges it.

Who may see an organization follows the grant: a disconnect takes the organization away from
every other browser (the one that disconnected keeps it, to purge or reconnect), a purge from
every browser, and signing out ends this browser's session wherever its cookie was copied.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError
from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import request
from flask import session
from flask import url_for
from requests import RequestException
from sqlalchemy import Table
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import confirm
from connector import oidc
from connector import signin
from connector import web
from core.context import JobContext
from core.db import Base
from core.db import utcnow
from core.models import OAuthGrant
from core.models import Organization
from core.models import OrgStatus
from core.tokens import TokenCipher
from core.tokens import store_token
from core.web_sessions import revoke_org
from providers import DISPLAY_NAMES
from providers import PROVIDERS
from providers import provider_class
from providers import setup_variables
from providers.base import ProviderError
from providers.base import Tenant
from sync.clients import open_provider
from sync.jobs import request_sync
from team import identities
from team import members
from team import roles

log = logging.getLogger(__name__)
bp = Blueprint("oauth", __name__)


class _CallbackCredentials:
    """The token just obtained, for the provider's `identify` call."""

    def __init__(self, token: dict[str, Any]):
        self._token = token

    def access_token(self) -> str:
        return str(self._token["access_token"])

    def refreshed(self, rejected: str) -> str:
        raise ProviderError("the new token was refused; try connecting again")


def configured(provider: str) -> Any:
    if provider not in PROVIDERS:
        abort(404, f"Unknown accounting system {provider!r}.")
    config = web.settings().provider(provider)
    if not config.configured:
        client_id, secret, redirect = setup_variables(provider)
        abort(
            503,
            f"{DISPLAY_NAMES[provider]} is not set up on this server: "
            f"set {client_id}, {secret} and {redirect}.",
        )
    return config


def _client(provider: str, config: Any, **kwargs: Any) -> OAuth2Session:
    spec = provider_class(provider).oauth(config)
    return OAuth2Session(
        config.client_id,
        config.client_secret,
        scope=" ".join(spec.scopes),
        redirect_uri=config.redirect_uri,
        token_endpoint_auth_method="client_secret_basic",
        **kwargs,
    )


@bp.post("/connect/<provider>")
def connect(provider: str) -> Response:
    return start_connect(provider)


def start_connect(provider: str) -> Response:
    """Send the browser to the provider's consent page to connect (or reconnect) a company."""
    config = configured(provider)
    spec = provider_class(provider).oauth(config)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session["oauth"] = {"provider": provider, "state": state, "nonce": nonce, "purpose": "connect"}
    with _client(provider, config) as client:
        url, _ = client.create_authorization_url(
            spec.authorize_url, state=state, nonce=nonce, **dict(spec.extra_authorize_params)
        )
    return redirect(url)


@bp.get("/oauth/<provider>/callback")
@web.writes
def callback(provider: str) -> Response:
    config = configured(provider)
    pending = session.pop("oauth", None)
    if not pending or pending.get("provider") != provider:
        abort(
            400,
            "This sign-in link has expired or was not started here. "
            "Start again with Connect or Sign in.",
        )
    if not secrets.compare_digest(str(pending.get("state")), request.args.get("state", "")):
        abort(
            400,
            "The sign-in could not be verified (state mismatch). "
            "Start again with Connect or Sign in.",
        )
    purpose = pending.get("purpose", "connect")
    if request.args.get("error"):
        error = request.args["error"]
        reason = "access was declined on the consent page" if error == "access_denied" else error
        did = "did not connect" if purpose == "connect" else "did not sign you in"
        flash(f"{DISPLAY_NAMES[provider]} {did}: {reason}.", "warning")
        return redirect(url_for("admin.home"))
    if purpose != "connect":
        return signin.finish(provider, pending)
    token = _exchange_code(provider, config)
    user_id = _connecting_user(provider, token, str(pending.get("nonce", "")))
    tenants = _identify(provider, config, token)
    org_ids = _save_connection(provider, token, tenants, user_id)
    signed_in = web.current_user()
    if signed_in is not None and signed_in.id == user_id:
        web.grant(org_ids)
    else:
        web.sign_in(user_id)
    ctx = _job_context()
    for org_id in org_ids:
        request_sync(ctx, org_id)
    names = ", ".join(t.name or t.external_id for t in tenants)
    flash(f"Connected {names}. The first sync has started.", "success")
    return redirect(url_for("admin.home"))


def _exchange_code(provider: str, config: Any) -> dict[str, Any]:
    spec = provider_class(provider).oauth(config)
    code = request.args.get("code")
    if not code:
        abort(400, "The provider sent no authorization code. Start again with Connect.")
    try:
        with _client(provider, config) as client:
            return dict(client.fetch_token(spec.token_url, code=code, timeout=20))
    except (OAuthError, RequestException) as exc:
        log.warning("token exchange with %s failed: %s", provider, exc.__class__.__name__)
        abort(502, f"{DISPLAY_NAMES[provider]} did not issue a token ({_reason(exc)}). Try again.")


def _connecting_user(provider: str, token: dict[str, Any], nonce: str) -> int:
    """Who is connecting: the signed-in user, or else the person the id_token names."""
    signed_in = web.current_user()
    try:
        claims = oidc.verify(provider, token, nonce) if "id_token" in token else None
        if signed_in is not None:
            return signed_in.id
        if claims is None:
            abort(400, "Sign in first (the provider sent no id_token to say who you are).")
        identity = oidc.identity(provider, token, claims)
        return identities.user_for(web.db(), identity, utcnow()).id
    except oidc.SignInFailed as exc:
        abort(400, str(exc))
    except identities.SignInRefused as exc:
        abort(403, str(exc))


def _identify(provider: str, config: Any, token: dict[str, Any]) -> list[Tenant]:
    try:
        tenants = provider_class(provider).identify(
            config, _CallbackCredentials(token), request.args.to_dict()
        )
    except ProviderError as exc:
        abort(502, f"Could not read the connected organization: {exc.message}")
    if not tenants:
        abort(400, "No organization was authorized. Choose at least one and try again.")
    return tenants


def _reason(exc: Exception) -> str:
    return getattr(exc, "error", None) or exc.__class__.__name__


def _save_connection(
    provider: str, token: dict[str, Any], tenants: list[Tenant], user_id: int
) -> list[int]:
    db = web.db()
    grant = OAuthGrant(provider=provider, token_ciphertext="", generation=0)
    store_token(grant, token, TokenCipher(web.settings().token_encryption_keys))
    db.add(grant)
    db.flush()
    previous = {
        org.grant_id
        for org in db.scalars(
            select(Organization).where(
                Organization.provider == provider,
                Organization.external_id.in_([t.external_id for t in tenants]),
            )
        )
        if org.grant_id is not None
    }
    ids = [_connect_org(db, provider, grant, tenant).id for tenant in tenants]
    for org_id in ids:
        members.join(db, org_id, user_id, roles.ADMIN)
    db.flush()
    _forget_unused_grants(db, previous)
    db.commit()
    return ids


def _forget_unused_grants(db: Any, grant_ids: set[int]) -> None:
    """A reconnect supersedes the old grant; once no organization uses it, its tokens go."""
    for grant_id in grant_ids:
        in_use = db.scalar(
            select(func.count(Organization.id)).where(Organization.grant_id == grant_id)
        )
        if not in_use:
            db.execute(delete(OAuthGrant).where(OAuthGrant.id == grant_id))


def _connect_org(db: Any, provider: str, grant: OAuthGrant, tenant: Tenant) -> Organization:
    org = db.scalar(
        select(Organization).where(
            Organization.provider == provider, Organization.external_id == tenant.external_id
        )
    )
    if org is None:
        org = Organization(provider=provider, external_id=tenant.external_id)
        db.add(org)
    org.name = tenant.name or org.name or tenant.external_id
    org.currency = tenant.currency or org.currency
    org.timezone = tenant.timezone or org.timezone or "UTC"
    org.connection_id = tenant.connection_id
    org.grant_id = grant.id
    org.status = OrgStatus.CONNECTED
    org.status_detail = ""
    org.connected_at = utcnow()
    org.disconnected_at = None
    db.flush()
    return org


@bp.post("/orgs/<int:org_id>/disconnect")
def disconnect(org_id: int) -> Any:
    org = web.current_org(org_id, need=roles.ADMIN)
    if not confirm.confirmed():
        return confirm.ask(
            f"Disconnect {org.name}? Dunwell stops syncing and acting for it; "
            "its data stays until you purge it.",
            "Yes, disconnect",
            url_for("admin.home", _anchor=f"org-{org.id}"),
        )
    db = web.db()
    grant_id = org.grant_id
    shared = grant_id is not None and _grant_shared(db, org)
    # End this request's transaction before the provider call: the call reads the grant in a
    # session of its own, and SQLite admits one writer at a time.
    db.commit()
    if grant_id is not None:
        _revoke_at_provider(org, revoke_grant=not shared)
    org.grant_id = None
    org.status = OrgStatus.DISCONNECTED
    org.status_detail = "Disconnected by an admin. The mirrored data is kept until purged."
    org.disconnected_at = utcnow()
    db.flush()
    if grant_id is not None and not shared:
        db.execute(delete(OAuthGrant).where(OAuthGrant.id == grant_id))
    revoke_org(db, org.id, keep_session_id=web.session_id())
    db.commit()
    flash(f"Disconnected {org.name}. Its data stays here until you purge it.", "success")
    return redirect(url_for("admin.home"))


def _grant_shared(db: Any, org: Organization) -> bool:
    """Does another connected organization use this organization's grant (one Xero login)?"""
    others = db.scalar(
        select(func.count(Organization.id)).where(
            Organization.grant_id == org.grant_id,
            Organization.id != org.id,
            Organization.status != OrgStatus.DISCONNECTED,
        )
    )
    return bool(others)


def _revoke_at_provider(org: Organization, *, revoke_grant: bool) -> None:
    ctx = _job_context()
    try:
        open_provider(org, ctx.settings, ctx.sessions, ctx.queue_redis()).disconnect(
            revoke_grant=revoke_grant
        )
    except Exception as exc:  # noqa: BLE001 - the local disconnect must happen regardless
        log.warning("revoking %s at the provider failed: %s", org.id, exc.__class__.__name__)
        flash(
            "The provider could not be told (it may already have revoked access); "
            "Dunwell has forgotten the tokens anyway.",
            "warning",
        )


@bp.post("/orgs/<int:org_id>/purge")
def purge(org_id: int) -> Any:
    org = web.current_org(org_id, need=roles.ADMIN)
    if org.status != OrgStatus.DISCONNECTED:
        abort(409, "Disconnect the organization before purging its data.")
    if not confirm.confirmed():
        return confirm.ask(
            f"Delete every record Dunwell holds for {org.name}? This cannot be undone.",
            "Yes, purge its data",
            url_for("admin.home", _anchor=f"org-{org.id}"),
        )
    name = org.name
    db = web.db()
    # Writers of tables without a foreign key to the organization hold it (FOR KEY SHARE) while
    # they write (core.models.hold_organization): wait for them, and keep new ones out. The
    # status is read again under the lock: a reconnect may have come in meanwhile.
    status = db.scalar(
        select(Organization.status).where(Organization.id == org_id).with_for_update()
    )
    if status != OrgStatus.DISCONNECTED:
        db.rollback()
        abort(409, "The organization was connected again meanwhile: nothing was purged.")
    revoke_org(db, org_id)
    for table in purge_order():
        db.execute(delete(table).where(table.c.organization_id == org_id))
    db.delete(org)
    db.commit()
    flash(f"Purged every record of {name}.", "success")
    return redirect(url_for("admin.home"))


def purge_order() -> list[Table]:
    """Every table holding an organization's rows, children before the parents their foreign
    keys name, and action_event after action: its writers hold only their action's row
    (outbox.lifecycle.transition), so deleting the actions first waits for them, and the
    events they wrote are then there to delete."""
    tables = [t for t in reversed(Base.metadata.sorted_tables) if "organization_id" in t.c]
    return sorted(tables, key=lambda table: table.name == "action_event")


@bp.post("/sign-out")
def sign_out() -> Response:
    web.sign_out()
    return redirect(url_for("admin.home"))


def _job_context() -> JobContext:
    return web.job_context()
