"""Customers: the list (search, filters, sorted by what is overdue, paged), each customer's page
(contacts, open and recent invoices with their step, the timeline, the collector's controls) and
the contact-history export (CSV, per customer and for all: the hand-off to an agency)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import request
from sqlalchemy import select

from connector import pages
from connector import web
from connector.timeline import timeline
from core.db import utcnow
from core.models import Customer
from core.models import Invoice
from core.models import Organization
from insights.aging import BUCKETS
from insights.aging import LABELS
from insights.customers import CustomerState
from insights.customers import load_states
from insights.customers import segments
from rules.models import StepFiring
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay
from rules.ruleset.store import active_book

bp = Blueprint("customers", __name__)

RECENT_INVOICES = 10
EXPORT_COLUMNS = ["customer", "customer_id", "when", "kind", "what", "detail", "to", "text", "by"]


@dataclass(frozen=True)
class Filters:
    q: str
    segment: str
    tag: str
    owner: str
    bucket: str
    on_hold: bool
    disputed: bool

    @classmethod
    def from_args(cls) -> Filters:
        args = request.args
        return cls(
            q=args.get("q", "").strip(),
            segment=args.get("segment", ""),
            tag=args.get("tag", ""),
            owner=args.get("owner", "").strip().lower(),
            bucket=args.get("bucket", "") if args.get("bucket", "") in BUCKETS else "",
            on_hold=args.get("on_hold") == "1",
            disputed=args.get("disputed") == "1",
        )

    def keeps(self, s: CustomerState) -> bool:
        return (
            (not self.q or self.q.lower() in s.name.lower())
            and (not self.segment or s.segment == self.segment)
            and (not self.tag or self.tag in s.tags)
            and (not self.owner or s.owner.lower() == self.owner)
            and (not self.bucket or self.bucket in s.buckets)
            and (not self.on_hold or s.on_hold)
            and (not self.disputed or s.disputed)
        )


def _sort_key(s: CustomerState) -> tuple:
    overdue_other = sum(s.by_currency(overdue_only=True).values())
    return (-s.overdue_home, -overdue_other, -s.oldest_days, s.name.lower())


@bp.get("/orgs/<int:org_id>/customers")
def listing(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    states = load_states(web.db(), org, pages.today(org), utcnow())
    wanted = Filters.from_args()
    found = sorted((s for s in states if wanted.keeps(s)), key=_sort_key)
    pager = pages.pager(len(found))
    active = active_book(web.db(), org.id)
    return pages.render(
        "customers.html",
        org,
        "customers",
        rows=found[pager.offset : pager.offset + pager.size],
        pager=pager,
        wanted=wanted,
        segments=segments(active[0] if active else None),
        tags=sorted({t for s in states for t in s.tags}),
        owners=sorted({s.owner for s in states if s.owner}),
        buckets=[(b, LABELS[b]) for b in BUCKETS],
        total=len(states),
    )


def customer_or_404(org: Organization, external_id: str) -> Customer:
    row = web.db().scalar(
        select(Customer).where(
            Customer.organization_id == org.id, Customer.external_id == external_id
        )
    )
    if row is None:
        abort(404, f"{org.name} has no customer with the id {external_id}. Find them by name "
                   "on the Customers page.")  # fmt: skip
    return row


def detail_context(org: Organization, customer: Customer) -> dict[str, Any]:
    db = web.db()
    cid = customer.external_id
    states = load_states(db, org, pages.today(org), utcnow(), [cid])
    state = states[0] if states else None
    return {
        "customer": customer,
        "state": state,
        "steps": _latest_steps(org.id, cid),
        "recent": _recent_invoices(org.id, cid),
        "entries": timeline(db, org, cid).get(cid, []),
        "disputes": _open_disputes(org.id, cid),
        "promises": _live(PromiseToPay, org.id, cid),
        "plans": _live(PaymentPlan, org.id, cid),
        "profile_owner": state.owner if state else "",
        "reasons": [
            ("pricing", "Pricing"),
            ("quality", "Quality"),
            ("not_received", "Not received"),
            ("duplicate", "Duplicate"),
            ("already_paid", "Already paid"),
            ("other", "Other"),
        ],
    }


@bp.get("/orgs/<int:org_id>/customers/<customer>")
def detail(org_id: int, customer: str) -> str:
    org = web.current_org(org_id, need="viewer")
    row = customer_or_404(org, customer)
    return pages.render("customer.html", org, "customers", **detail_context(org, row))


def _latest_steps(org_id: int, customer: str) -> dict[str, tuple[str, str]]:
    """Per invoice: the latest step the rules took it to, and the day."""
    rows = web.db().execute(
        select(StepFiring.target, StepFiring.step, StepFiring.rule, StepFiring.fired_on)
        .where(
            StepFiring.organization_id == org_id,
            StepFiring.customer_external_id == customer,
        )
        .order_by(StepFiring.fired_on, StepFiring.id)
    )
    return {target: (step, fired_on.isoformat()) for target, step, _, fired_on in rows}


def _recent_invoices(org_id: int, customer: str) -> list[Invoice]:
    return list(
        web.db().scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org_id,
                Invoice.customer_external_id == customer,
                Invoice.status.not_in(("open",)),
            )
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
            .limit(RECENT_INVOICES)
        )
    )


def _open_disputes(org_id: int, customer: str) -> list[Dispute]:
    return list(
        web.db().scalars(
            select(Dispute).where(
                Dispute.organization_id == org_id,
                Dispute.customer_external_id == customer,
                Dispute.closed_on.is_(None),
            )
        )
    )


def _live(model: Any, org_id: int, customer: str) -> list[Any]:
    return list(
        web.db().scalars(
            select(model).where(
                model.organization_id == org_id,
                model.customer_external_id == customer,
                model.cancelled_on.is_(None),
            )
        )
    )


# ---------------------------------------------------------------- contact history (CSV)


@bp.get("/orgs/<int:org_id>/customers/<customer>/contact-history.csv")
def export_one(org_id: int, customer: str) -> Response:
    org = web.current_org(org_id, need="viewer")
    row = customer_or_404(org, customer)
    return _csv(org, {row.external_id: row.name}, row.external_id, f"{row.name} contact history")


@bp.get("/orgs/<int:org_id>/contact-history.csv")
def export_all(org_id: int) -> Response:
    org = web.current_org(org_id, need="viewer")
    names = dict(
        web.db()
        .execute(
            select(Customer.external_id, Customer.name).where(Customer.organization_id == org.id)
        )
        .all()
    )
    return _csv(org, names, None, f"{org.name} contact history")


def _csv(org: Organization, names: dict[str, str], customer: str | None, title: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for cid, entries in sorted(timeline(web.db(), org, customer).items()):
        for e in entries:
            cells = [
                names.get(cid, cid),
                cid,
                e.when,
                e.kind,
                e.title,
                e.detail,
                e.to,
                e.body,
                e.by,
            ]
            writer.writerow([_cell(c) for c in cells])
    filename = "".join(ch if ch.isalnum() or ch in "-_ " else "_" for ch in title).strip()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula is kept as text (a leading apostrophe)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
