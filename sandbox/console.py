"""`GET /_sandbox/`: a page for people trying the demo — every sandbox company, its oldest open
invoices, and a button that pays one in full (which fires the provider's webhook)."""

from __future__ import annotations

from flask import Blueprint
from flask import render_template

bp = Blueprint("sandbox_console", __name__, template_folder="templates")


@bp.get("/_sandbox/")
def page() -> str:
    return render_template("sandbox_console.html")
