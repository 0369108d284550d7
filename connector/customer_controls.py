"""The collector's controls on a customer's page: disputes, promises to pay, payment plans,
do-not-contact, a credit hold by hand, owner and tags. Forms name invoices by their number and
promises and plans by their dates; each change goes through the same code as the JSON API
(rules.pauses.store) and has the customer evaluated again. Input a person must correct comes
back as the page with the problem beside the form (422), what they typed kept."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from connector import pages
from connector import team as browser_team
from connector import web
from connector.customers import customer_or_404
from connector.customers import detail_context
from connector.manual_actions import set_hold
from connector.rules_api import _reevaluate as reevaluate
from core import team
from core.db import utcnow
from core.invalid import InputInvalid
from core.models import Customer
from core.models import Invoice
from core.models import Organization
from outbox import jobs as outbox_jobs
from rules.pauses import schemas as shapes
from rules.pauses import store as pauses_store
from rules.pauses.models import Dispute
from rules.pauses.models import PaymentPlan
from rules.pauses.models import PromiseToPay

bp = Blueprint("customer_controls", __name__, url_prefix="/orgs/<int:org_id>/customers/<customer>")

INSTALMENT_ROWS = 6
Change = Callable[[Organization, Customer], str]


def _control(name: str, org_id: int, customer: str, change: Change) -> Response | tuple[str, int]:
    org = web.current_org(org_id, need="collector")
    row = customer_or_404(org, customer)
    try:
        done = change(org, row)
    except (InputInvalid, pages.FormProblem) as exc:
        web.db().rollback()
        problem = {"form": name, "message": pages.in_words(exc.errors)}
        return _page_with(org, row, problem), 422
    except team.NotAMember as exc:
        web.db().rollback()
        return _page_with(org, row, {"form": name, "message": str(exc)}), 422
    web.db().commit()
    if name == "hold":  # the manual action is in the outbox now: write it
        outbox_jobs.request_delivery(web.job_context(), org.id)
    reevaluate(org.id, row.external_id)
    flash(done, "success")
    return redirect(url_for("customers.detail", org_id=org.id, customer=row.external_id), 303)


def _page_with(org: Organization, row: Customer, problem: dict[str, str]) -> str:
    context = detail_context(org, row)
    return pages.render(
        "customer.html", org, "customers", problem=problem, form=request.form, **context
    )


def _invoice_id(org: Organization, customer: Customer, number: str, field: str) -> str:
    """The customer's invoice numbered `number` (as the provider shows it)."""
    text = number.strip()
    if not text:
        raise pages.FormProblem({field: "name the invoice by its number"})
    ids = (
        web.db()
        .scalars(
            select(Invoice.external_id).where(
                Invoice.organization_id == org.id,
                Invoice.customer_external_id == customer.external_id,
                Invoice.number == text,
                Invoice.deleted.is_(False),
            )
        )
        .all()
    )
    if not ids:
        raise pages.FormProblem({field: f"{customer.name} has no invoice numbered {text}"})
    return ids[0]


def _numbers(org: Organization, customer: Customer, field: str) -> list[str]:
    return [_invoice_id(org, customer, n, field) for n in request.form.getlist(field) if n.strip()]


def _money(text: str | None, field: str) -> str | None:
    value = (text or "").strip().replace(",", "")
    if not value:
        return None
    try:
        Decimal(value)
    except InvalidOperation:
        raise pages.FormProblem({field: f"“{value[:20]}” is not an amount"}) from None
    return value


# ---------------------------------------------------------------- disputes


@bp.post("/disputes")
def open_dispute(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        form = request.form
        invoice = _invoice_id(org, row, form.get("invoice", ""), "invoice")
        data = {"invoice": invoice, "reason": form.get("reason", ""), "note": form.get("note", "")}
        pauses_store.open_dispute(
            web.db(), org.id, shapes.load(shapes.DisputeIn(), data), pages.today(org)
        )
        return f"Dispute opened on invoice {form['invoice'].strip()}: it is not chased while open."

    return _control("dispute", org_id, customer, change)


@bp.post("/disputes/close")
def close_dispute(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        number = request.form.get("invoice", "")
        invoice = _invoice_id(org, row, number, "invoice")
        disputes = (
            web.db()
            .scalars(
                select(Dispute).where(
                    Dispute.organization_id == org.id,
                    Dispute.invoice_external_id == invoice,
                    Dispute.closed_on.is_(None),
                )
            )
            .all()
        )
        if not disputes:
            raise pages.FormProblem({"invoice": f"invoice {number} has no open dispute"})
        data = shapes.load(
            shapes.DisputeClose(), {"resolution": request.form.get("resolution", "")}
        )
        for dispute in disputes:
            pauses_store.close_dispute(dispute, data, pages.today(org))
        return f"Dispute on invoice {number.strip()} closed; dunning resumes where it stands."

    return _control("close_dispute", org_id, customer, change)


# ---------------------------------------------------------------- promises and plans


@bp.post("/promises")
def add_promise(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        form = request.form
        until = pages.form_dates(form.get("until"), "until")
        if until is None:
            raise pages.FormProblem({"until": "say by when they promised to pay"})
        data = {
            "customer": row.external_id,
            "until": until.isoformat(),
            "invoices": _numbers(org, row, "invoices"),
            "note": form.get("note", ""),
        }
        amount = _money(form.get("amount"), "amount")
        if amount is not None:
            data["amount"] = amount
        loaded = shapes.load(shapes.PromiseIn(), data)
        promise = pauses_store.add_promise(web.db(), org.id, loaded, pages.today(org))
        return (
            f"Promise to pay by {promise.until.isoformat()} recorded; reminders pause until then."
        )

    return _control("promise", org_id, customer, change)


@bp.post("/promises/cancel")
def cancel_promise(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        until = pages.form_dates(request.form.get("until"), "until")
        found = (
            web.db()
            .scalars(
                select(PromiseToPay).where(
                    PromiseToPay.organization_id == org.id,
                    PromiseToPay.customer_external_id == row.external_id,
                    PromiseToPay.until == until,
                    PromiseToPay.cancelled_on.is_(None),
                )
            )
            .all()
        )
        if not found:
            raise pages.FormProblem({"until": f"no live promise to pay by {until}"})
        for promise in found:
            promise.cancelled_on = pages.today(org)
        return f"Promise to pay by {until} cancelled; dunning resumes."

    return _control("cancel_promise", org_id, customer, change)


@bp.post("/plans")
def add_plan(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        form = request.form
        instalments = []
        for n in range(1, INSTALMENT_ROWS + 1):
            due = pages.form_dates(form.get(f"due_{n}"), f"instalment {n} date")
            amount = _money(form.get(f"amount_{n}"), f"instalment {n} amount")
            if due is None and amount is None:
                continue
            if due is None or amount is None:
                raise pages.FormProblem({f"instalment {n}": "give both its date and its amount"})
            instalments.append({"due_on": due.isoformat(), "amount": amount})
        data = {
            "customer": row.external_id,
            "invoices": _numbers(org, row, "invoices"),
            "instalments": instalments,
            "note": form.get("note", ""),
        }
        plan = pauses_store.add_plan(
            web.db(), org.id, shapes.load(shapes.PlanIn(), data), pages.today(org)
        )
        return (
            f"Payment plan of {plan.start_balance:,.2f} {plan.currency} in "
            f"{len(plan.instalments)} instalments recorded."
        )

    return _control("plan", org_id, customer, change)


@bp.post("/plans/cancel")
def cancel_plan(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        made = pages.form_dates(request.form.get("created_on"), "created_on")
        found = (
            web.db()
            .scalars(
                select(PaymentPlan).where(
                    PaymentPlan.organization_id == org.id,
                    PaymentPlan.customer_external_id == row.external_id,
                    PaymentPlan.created_on == made,
                    PaymentPlan.cancelled_on.is_(None),
                )
            )
            .all()
        )
        if not found:
            raise pages.FormProblem({"created_on": f"no live payment plan made on {made}"})
        for plan in found:
            plan.cancelled_on = pages.today(org)
        return f"Payment plan made on {made} cancelled; dunning resumes."

    return _control("cancel_plan", org_id, customer, change)


# ---------------------------------------------------------------- contact, hold, owner and tags


@bp.post("/contact")
def do_not_contact(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        stop = request.form.get("do_not_contact") == "1"
        reason = request.form.get("reason", "").strip()
        data = shapes.load(
            shapes.ProfileIn(), {"do_not_contact": stop, "do_not_contact_reason": reason}
        )
        pauses_store.update_profile(web.db(), org.id, row.external_id, data)
        if stop:
            return f"{row.name} is do-not-contact: no reminder goes to them until you allow it."
        return f"{row.name} may be contacted again."

    return _control("contact", org_id, customer, change)


@bp.post("/hold")
def hold(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        on = request.form.get("on_hold") == "1"
        reason = request.form.get("reason", "").strip()[:500]
        set_hold(web.db(), org, row.external_id, on, reason, browser_team.actor(), utcnow())
        where = pages.provider_label(org)
        if on:
            return f"Credit hold placed on {row.name}; it is being written to {where}."
        return f"Credit hold on {row.name} released; it is being written to {where}."

    return _control("hold", org_id, customer, change)


@bp.post("/profile")
def profile(org_id: int, customer: str) -> Any:
    def change(org: Organization, row: Customer) -> str:
        owner = team.member_from_form(request.form.get("owner"))
        tags = [t.strip() for t in request.form.get("tags", "").split(",") if t.strip()]
        data = shapes.load(shapes.ProfileIn(), {"owner": owner, "tags": tags})
        pauses_store.update_profile(web.db(), org.id, row.external_id, data)
        return (
            f"{row.name}: owner {team.label(owner)}, tags {', '.join(sorted(set(tags))) or 'none'}."
        )

    return _control("profile", org_id, customer, change)
