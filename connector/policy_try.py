"""Trying a version before it is active: the preview (what the next run would do today, per
customer, with the exact message and why in words) and the backtest (a replay over the last N
months beside the active rules, per week as a chart, for whom, what pauses held back, and what
the replay can only approximate). Both run under the request's time limit, outside any write
transaction."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from sqlalchemy import select

from connector import charts
from connector import pages
from connector import web
from connector.activity_why import explain
from core.db import utcnow
from core.models import Customer
from core.models import Organization
from policy.trial import WeekTable
from policy.trial import by_customer
from policy.trial import week_table
from rules.analysis.backtest import load_history
from rules.analysis.backtest import replay
from rules.analysis.preview import preview as run_preview
from rules.ruleset import store
from rules.ruleset.book import RuleBook

bp = Blueprint("policy_try", __name__, url_prefix="/orgs/<int:org_id>/rules/versions/<int:number>")

MONTHS = (1, 3, 6, 12)


def _book(org_id: int, number: int) -> tuple[Any, RuleBook]:
    try:
        version = store.get_version(web.db(), org_id, number)
    except store.NoSuchVersion:
        abort(404, f"There is no version {number} of the rules.")
    return version, store.book_for(version)


@bp.get("/preview")
def preview(org_id: int, number: int) -> str:
    org = web.current_org(org_id, need="viewer")
    version, book = _book(org_id, number)
    result = run_preview(
        web.db(), org, book, utcnow(), store.rules_since(web.db(), org), None,
        web.deadline("preview"),
    )  # fmt: skip
    names = _names(org_id)
    groups = by_customer(result, names)
    for group in groups:
        for decision in group.decisions:
            decision["why"] = explain(_as_action(decision, result), lambda s: s)
    return pages.render(
        "policy/preview.html",
        org,
        "rules",
        version=version,
        result=result,
        groups=groups,
        names=names,
    )


def _as_action(decision: dict[str, Any], result: dict[str, Any]) -> Any:
    return SimpleNamespace(
        explanation=decision["explanation"],
        decided_on=result["as_of"],
        rule_version=result["version"],
        rule=decision["rule"],
        step=decision["step"],
    )


def _names(org_id: int) -> dict[str, str]:
    rows = web.db().execute(
        select(Customer.external_id, Customer.name).where(Customer.organization_id == org_id)
    )
    return {cid: name or cid for cid, name in rows}


def _months() -> int:
    value = request.args.get("months", "3")
    return int(value) if value.isdigit() and int(value) in MONTHS else 3


def _compare(org: Organization, number: int, months: int) -> tuple[Any, dict, dict | None]:
    """The version's backtest and the active set's (None when this version is the active)."""
    version, book = _book(org.id, number)
    active = store.active_version(web.db(), org.id)
    other = store.book_for(active) if active is not None and active.number != number else None
    end = pages.today(org)
    start = end - timedelta(days=30 * months)
    history = load_history(web.db(), org, start)
    version = SimpleNamespace(number=version.number, activated_at=version.activated_at)
    web.done_reading()
    deadline = web.deadline("backtest")
    mine = replay(history, book, start, end, deadline)
    theirs = replay(history, other, start, end, deadline) if other is not None else None
    return version, mine, theirs


@bp.get("/backtest")
def backtest(org_id: int, number: int) -> str:
    org = web.current_org(org_id, need="viewer")
    months = _months()
    version, mine, theirs = _compare(org, number, months)
    org = web.current_org(org_id, need="viewer")  # read again after the replay
    table: WeekTable = week_table(mine, theirs)
    return pages.render(
        "policy/backtest.html",
        org,
        "rules",
        version=version,
        months=months,
        choices=MONTHS,
        mine=mine,
        theirs=theirs,
        table=table,
    )


@bp.get("/backtest.svg")
def backtest_chart(org_id: int, number: int) -> Response:
    org = web.current_org(org_id, need="viewer")
    _, mine, theirs = _compare(org, number, _months())
    svg = charts.backtest_chart(week_table(mine, theirs), number)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = charts.IMAGE_POLICY
    return response
