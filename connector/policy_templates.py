"""The template editor of a draft: subject and body with the placeholders listed (a click
inserts one: static/policy.js), a live preview for a customer chosen by name with their real
open invoices (plain text and HTML, errors at their field), and "send a test to me" through
the organization's email channel."""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from connector import confirm
from connector import pages
from connector import web
from connector.policy_page import draft_or_404
from connector.policy_page import render
from connector.policy_page import save_change
from connector.policy_page import simple_save
from core.db import utcnow
from core.models import Organization
from outbox.email import settings as email_settings
from outbox.email.message import Sender
from outbox.email.smtp import FAILURES
from outbox.email.smtp import send
from policy import forms
from policy import messages

bp = Blueprint(
    "policy_templates", __name__, url_prefix="/orgs/<int:org_id>/rules/drafts/<int:number>"
)

NEW_BODY = "Dear {{ customer.name }},\n\n\n{{ organization.name }}\n"


def _shown(version: Any, key: str | None) -> dict[str, str]:
    if request.method == "POST":
        return {
            name: request.form.get(name, "") for name in ("name", "subject", "body", "customer")
        }
    template = version.document["templates"].get(key) if key else None
    if template is None:
        return {"name": "", "subject": "", "body": NEW_BODY, "customer": ""}
    return {
        "name": key or "",
        "subject": template["subject"],
        "body": template["body"],
        "customer": "",
    }


def _page(org: Organization, version: Any, key: str | None, errors: dict, others: dict) -> str:
    shown = _shown(version, key)
    return render(
        "policy/template.html",
        org,
        version,
        key=key,
        values=shown,
        errors=errors,
        others=others,
        placeholders=messages.PLACEHOLDERS,
        customers=messages.customers(web.db(), org.id),
        result=_rendered(org, shown),
    )


def _rendered(org: Organization, shown: dict[str, str]) -> messages.Rendered:
    ctx = None
    if shown.get("customer"):
        ctx = messages.customer_context(
            web.db(), org.id, org.name, shown["customer"], pages.today(org)
        )
    if ctx is None:
        ctx = messages.sample()
    to = (ctx.get("customer") or {}).get("email") or "customer@example.invalid"
    sender = Sender(org.name, "reminders@example.invalid")
    return messages.render_for(shown["subject"], shown["body"], ctx, sender, to, utcnow())


@bp.route("/templates/new", methods=["GET", "POST"])
@bp.route("/templates/<key>", methods=["GET", "POST"])
def edit(org_id: int, number: int, key: str | None = None) -> Any:
    org = web.current_org(org_id, need="admin" if request.method == "POST" else "viewer")
    version = draft_or_404(org_id, number)
    if key is not None and key not in version.document["templates"]:
        abort(404, f"This draft has no template “{key}”.")
    if request.method == "GET":
        return _page(org, version, key, {}, {})
    name = key or forms.slug(
        forms.text(request.form, "name") or "template",
        set(version.document["templates"]),
        "template",
    )

    def change(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
        doc["templates"][name] = {
            "subject": request.form.get("subject", ""),
            "body": request.form.get("body", ""),
        }
        return doc, f"templates.{name}"

    def again(errors: dict[str, str], others: dict[str, str]) -> str:
        return _page(org, version, key, errors, others)

    return save_change(org, version, change, again, f"Template “{name}” saved.", "templates")


@bp.post("/templates/preview")
@web.read_only
def preview(org_id: int, number: int) -> Any:
    """The rendered message for what is typed (htmx swaps it into the editor); for whoever
    may edit templates (a viewer sees the rendered saved template on the page itself)."""
    org = web.current_org(org_id, need="admin")
    draft_or_404(org_id, number)
    shown = {n: request.form.get(n, "") for n in ("subject", "body", "customer")}
    return render_template("policy/_rendered.html", result=_rendered(org, shown))


@bp.post("/templates/<key>/delete")
def delete(org_id: int, number: int, key: str) -> Any:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    if not confirm.confirmed():
        return confirm.ask(
            f"Remove template {key}?",
            f"Yes, remove template {key}",
            url_for("policy_page.editor", org_id=org_id, number=number),
        )
    doc = copy.deepcopy(version.document)
    doc["templates"].pop(key, None)
    return simple_save(org_id, number, doc, f"Template “{key}” removed.", "templates")


@bp.post("/templates/test")
@web.read_only
def send_test(org_id: int, number: int) -> Any:
    """The message as rendered for the chosen customer, sent to the signed-in person only."""
    org = web.current_org(org_id, need="admin")
    draft_or_404(org_id, number)
    user = web.current_user()
    if user is None:
        abort(403, "Sign in to send yourself a test.")
    back = request.form.get("back") or url_for("policy_page.editor", org_id=org_id, number=number)
    if not back.startswith(f"/orgs/{org_id}/rules/"):
        back = url_for("policy_page.editor", org_id=org_id, number=number)
    shown = {n: request.form.get(n, "") for n in ("subject", "body", "customer")}
    try:
        setup = email_settings.effective(web.db(), org, web.settings())
    except email_settings.EmailNotConfigured as exc:
        flash(f"No test sent: {exc}", "warning")
        return redirect(back)
    ctx = None
    if shown["customer"]:
        ctx = messages.customer_context(
            web.db(), org.id, org.name, shown["customer"], pages.today(org)
        )
    to = user.email
    web.done_reading()  # no transaction is held while the mail server answers
    result = messages.render_for(
        shown["subject"], shown["body"], ctx or messages.sample(), setup.sender, to, utcnow()
    )
    if result.errors:
        flash("No test sent: " + pages.in_words(result.errors), "warning")
        return redirect(back)
    assert result.message is not None
    try:
        reference = send(setup.smtp, result.message)
    except FAILURES as exc:
        flash(f"The test was not sent. The mail server said: {exc}", "warning")
    else:
        flash(f"Test sent to {to} (server reference: {reference}).", "success")
    return redirect(back)
