"""The QuickBooks Online part of the sandbox.

Serves Intuit's OAuth endpoints and the Accounting API under /qbo, fires signed webhooks on every
change, and offers a control API under /_sandbox/quickbooks. Two seeded companies:
9341453050010001 "Larkspur Landscaping" (USD) and 9341453050010002 "Harbour Print Co" (CAD,
multicurrency). The data is anchored on `config.today` or `app.config["SANDBOX_TODAY"]` (a date
or ISO string) when given, else on today.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask

from sandbox import oidc
from sandbox.faults import Faults
from sandbox.quickbooks import api
from sandbox.quickbooks import control
from sandbox.quickbooks import oauth
from sandbox.quickbooks.clock import Clock
from sandbox.quickbooks.grants import Grants
from sandbox.quickbooks.seed import build_companies
from sandbox.quickbooks.state import EXTENSION
from sandbox.quickbooks.state import QboState
from sandbox.quickbooks.store import Store
from sandbox.quickbooks.webhooks import make_encoder
from sandbox.webhooks import WebhookSender


def _today(app: Flask, config: Any) -> date:
    """`config.today` if the config has one, else app.config["SANDBOX_TODAY"], else today."""
    value = getattr(config, "today", None) or app.config.get("SANDBOX_TODAY")
    if value is None:
        return date.today()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def init_app(app: Flask, config: Any, faults: Faults, sender: WebhookSender) -> QboState:
    oidc.init_app(app, config)  # who signs in, and the id_tokens
    clock = Clock(_today(app, config))
    store = Store(
        clock, build_companies(config.seed, config.size, clock.today, clock.seed_horizon())
    )
    state = QboState(
        config=config,
        faults=faults,
        sender=sender,
        clock=clock,
        store=store,
        grants=Grants(clock),
        encoder=make_encoder(config.intuit_webhook_verifier, config.intuit_cloudevents),
    )
    store.listeners.append(state.publish)
    app.extensions[EXTENSION] = state
    app.register_blueprint(oauth.blueprint(state))
    app.register_blueprint(api.blueprint(state))
    app.register_blueprint(control.blueprint())
    return state
