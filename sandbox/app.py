"""The sandbox's application factory and its shared control API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Flask
from flask import jsonify
from flask import request

from sandbox import page_cache
from sandbox.faults import Faults
from sandbox.mail import Mailbox
from sandbox.mail import MailServer
from sandbox.webhooks import WebhookSender
from sandbox.writes import EXTENSION as WRITES
from sandbox.writes import WriteLog


@dataclass(frozen=True)
class SandboxConfig:
    """Who may connect and where webhooks go. The defaults match `make demo`."""

    seed: int = 7
    today: date | None = None  # the day the seeded ledgers end on; None: the real today
    size: str = "demo"  # "demo" (a few hundred customers), "small" (tests), "large" (bench)
    intuit_client_id: str = "sandbox-intuit-client"
    intuit_client_secret: str = "sandbox-intuit-secret"
    intuit_webhook_verifier: str = "sandbox-intuit-verifier"
    intuit_webhook_url: str = ""
    intuit_cloudevents: bool = True
    xero_client_id: str = "sandbox-xero-client"
    xero_client_secret: str = "sandbox-xero-secret"
    xero_webhook_key: str = "sandbox-xero-webhook-key"
    xero_webhook_url: str = ""
    xero_fleet: int = 0  # this many tiny Xero organisations besides the three (scale-out bench)
    page_cache: bool = True  # list pages rendered once per data version (sandbox.page_cache)
    webhook_delay_seconds: float = 0.2
    smtp_port: int = 0  # 0: no mail server; otherwise one on smtp_host:smtp_port
    smtp_host: str = "127.0.0.1"
    smtp_certificate: tuple[str, str] | None = None  # (cert file, key file): STARTTLS offered
    smtp_implicit_tls: bool = False  # TLS from the first byte instead of STARTTLS
    smtp_credentials: tuple[str, str] | None = None  # AUTH required with this login


def create_app(config: SandboxConfig | None = None) -> Flask:
    config = config or SandboxConfig()
    app = Flask(__name__)
    app.config["SANDBOX"] = config
    faults = Faults()
    sender = WebhookSender(delay_seconds=config.webhook_delay_seconds)
    app.extensions["sandbox_faults"] = faults
    app.extensions["sandbox_webhooks"] = sender
    app.extensions[WRITES] = WriteLog()
    page_cache.init_app(app, config.page_cache)

    mailbox = app.extensions["sandbox_mailbox"] = Mailbox()
    if config.smtp_port:
        server = MailServer(
            mailbox,
            config.smtp_host,
            config.smtp_port,
            certificate=config.smtp_certificate,
            implicit_tls=config.smtp_implicit_tls,
            credentials=config.smtp_credentials,
        )
        app.extensions["sandbox_smtp"] = server.start()

    from sandbox import console
    from sandbox import mail_views
    from sandbox import pay
    from sandbox import quickbooks
    from sandbox import writes_page
    from sandbox import xero

    quickbooks.init_app(app, config, faults, sender)
    xero.init_app(app, config, faults, sender)
    app.register_blueprint(console.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(writes_page.bp)
    app.register_blueprint(mail_views.bp)

    @app.post("/_sandbox/faults")
    def set_faults():
        """Body: {"provider", "kind", "count", "seconds", "tenant", "paths", "methods",
        "message", "retry_after", "share"} (see sandbox.faults)."""
        spec = request.get_json(silent=True, force=True)
        if not isinstance(spec, dict):
            return jsonify(error="the body must be a JSON object"), 400
        try:
            faults.arm(**spec)
        except (TypeError, ValueError) as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(faults.describe())

    @app.get("/_sandbox/faults")
    def armed_faults() -> Any:
        """What is armed, with the uses each fault has left."""
        return jsonify(faults.describe())

    @app.delete("/_sandbox/faults")
    def clear_faults():
        """Everything, or only ?provider=...[&tenant=...]."""
        faults.clear(request.args.get("provider") or None, request.args.get("tenant") or None)
        return jsonify(faults.describe())

    @app.get("/_sandbox/webhooks")
    def webhook_log():
        return jsonify(sender.log())

    @app.post("/_sandbox/webhooks/<int:number>/redeliver")
    def redeliver_webhook(number: int) -> Any:
        """Send delivery `number` of GET /_sandbox/webhooks again, ?times=N (1 to 100) times."""
        times = request.args.get("times", "1")
        if not times.isdigit() or not 1 <= int(times) <= 100:
            return jsonify(error="times must be a whole number from 1 to 100"), 400
        try:
            return jsonify(sender.redeliver(number, int(times)))
        except IndexError as exc:
            return jsonify(error=str(exc)), 404

    @app.post("/_sandbox/webhooks/flush")
    def flush_webhooks():
        sender.flush()
        return jsonify(sender.log())

    return app
