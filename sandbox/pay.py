"""`/_sandbox/pay/<provider>/<tenant>/<invoice>`: the "pay online" page an invoice link leads to.

QuickBooks' InvoiceLink and Xero's OnlineInvoiceUrl point here. The page shows the invoice and a
button that pays what is left, as the customer paying online would: the ledger changes and the
provider's webhook fires.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from sandbox.quickbooks import online as qbo_online
from sandbox.quickbooks.store import OpError
from sandbox.xero import online as xero_online
from sandbox.xero.store import Invalid
from sandbox.xero.store import NotFound

bp = Blueprint("sandbox_pay", __name__, template_folder="templates")

Page = Callable[[str, str], dict[str, Any]]
Pay = Callable[[str, str], Decimal]
ONLINE: dict[str, tuple[Page, Pay]] = {
    "quickbooks": (qbo_online.invoice_page, qbo_online.pay_in_full),
    "xero": (xero_online.invoice_page, xero_online.pay_in_full),
}
REFUSED = (OpError, Invalid, NotFound)


@bp.get("/_sandbox/pay/<provider>/<tenant>/<invoice_id>")
def page(provider: str, tenant: str, invoice_id: str) -> tuple[str, int]:
    if provider not in ONLINE:
        return _problem("There is no such provider in the sandbox.", 404)
    try:
        invoice = ONLINE[provider][0](tenant, invoice_id)
    except REFUSED as exc:
        return _problem(_reason(exc), 404)
    paid = request.args.get("paid")
    return render_template("sandbox_pay.html", invoice=invoice, paid=paid, problem=None), 200


@bp.post("/_sandbox/pay/<provider>/<tenant>/<invoice_id>")
def pay(provider: str, tenant: str, invoice_id: str) -> Response | tuple[str, int]:
    if provider not in ONLINE:
        return _problem("There is no such provider in the sandbox.", 404)
    try:
        amount = ONLINE[provider][1](tenant, invoice_id)
    except REFUSED as exc:
        status = 404 if isinstance(exc, NotFound) or getattr(exc, "code", "") == "610" else 400
        return _problem(_reason(exc), status)
    target = url_for(".page", provider=provider, tenant=tenant, invoice_id=invoice_id)
    return redirect(f"{target}?paid={amount}", code=303)


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "detail", None) or exc)


def _problem(text: str, status: int) -> tuple[str, int]:
    return render_template("sandbox_pay.html", invoice=None, paid=None, problem=text), status
