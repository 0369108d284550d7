"""The web application: OAuth connect, webhooks, the admin page and the JSON API."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException

from connector import cli
from connector import headers
from connector import oidc
from connector import web
from core.deadline import TimeLimitExceeded
from core.settings import Settings

csrf = CSRFProtect()


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.webhook_max_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    web.init_app(app, settings)
    oidc.init_app(app, settings)
    headers.init_app(app, settings)
    csrf.init_app(app)
    cli.init_app(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from connector import activity
    from connector import admin
    from connector import customer_controls
    from connector import customers
    from connector import dashboard
    from connector import email_settings
    from connector import oauth
    from connector import openapi
    from connector import outbox_api
    from connector import outbox_page
    from connector import pages
    from connector import policy_page
    from connector import policy_templates
    from connector import policy_try
    from connector import policy_versions
    from connector import progress
    from connector import rules_api
    from connector import rules_page
    from connector import signin
    from connector import tasks_page
    from connector import team_page
    from connector import unsubscribe
    from connector import webhooks

    webhooks.mount(app)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(rules_page.bp)
    for editor in (policy_page, policy_templates, policy_try, policy_versions):
        app.register_blueprint(editor.bp)
    app.register_blueprint(rules_api.bp)
    app.register_blueprint(outbox_api.bp)
    app.register_blueprint(outbox_page.bp)
    app.register_blueprint(email_settings.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(team_page.bp)
    app.register_blueprint(unsubscribe.bp)
    for page in (pages, dashboard, progress, customers, customer_controls, activity, tasks_page):
        app.register_blueprint(page.bp)
    csrf.exempt(unsubscribe.bp)  # RFC 8058 one-click POSTs carry no token: the signed link rules
    app.register_blueprint(openapi.bp)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return web.error_response(
            400,
            f"The form expired or was not sent from Dunwell: {exc.description} "
            "Reload the page and try again.",
        )

    @app.errorhandler(TimeLimitExceeded)
    def too_long(exc: TimeLimitExceeded):
        return web.error_response(422, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return web.error_response(exc.code or 500, exc.description or exc.name)
