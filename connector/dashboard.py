"""The dashboard of one organization: what needs attention, aging (chart and table), DSO, CEI,
the overdue trend, overdue by reason and the top overdue customers (figures: insights/)."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from connector import charts
from connector import pages
from connector import web
from connector.progress import progress
from core.db import utcnow
from insights import dashboard as figures
from insights.aging import aging
from insights.aging import load_open
from insights.customers import load_states
from insights.customers import overdue_by_reason
from insights.ledger import load_ledger
from insights.trend import trend
from insights.trend import window_start

bp = Blueprint("dashboard", __name__)


@bp.get("/orgs/<int:org_id>/")
def page(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    board = figures.build(web.db(), org, pages.today(org), utcnow())
    return render_template(
        "dashboard.html", org=org, board=board, progress=progress(org), section="dashboard"
    )


@bp.get("/orgs/<int:org_id>/charts/<name>.svg")
def chart(org_id: int, name: str) -> Response:
    org = web.current_org(org_id, need="viewer")
    db, today, home = web.db(), pages.today(org), org.currency or ""
    size = request.args.get("size", "wide")
    if name == "aging":
        svg = charts.aging_chart(aging(load_open(db, org.id), today, org.currency), size)
    elif name == "trend":
        ledger = load_ledger(db, org.id, window_start(today))
        svg = charts.trend_chart(trend(ledger, today, org.currency), home, size)
    elif name == "reasons":
        states = load_states(db, org, today, utcnow())
        svg = charts.reasons_chart(overdue_by_reason(states), home, size)
    else:
        return web.error_response(404, f"There is no chart {name}; the dashboard shows them all.")
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = charts.IMAGE_POLICY
    return response
