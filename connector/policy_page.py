"""The rule editor: a draft's policies as timelines of steps, its segments, templates,
discounts, holds and limits, each edited in a form that writes the same rule-set document the
JSON view writes (policy.forms), validated by rules.ruleset.schema and saved into the draft.

Viewers read every page; saving needs the admin role. A problem is shown at its field and
nothing is saved until the whole document is valid.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from connector import confirm
from connector import pages
from connector import web
from core.models import Organization
from policy import drafts
from policy import forms
from policy import words
from policy.segments import segment_counts
from rules.engine.conditions import CUSTOMER_FACTS
from rules.engine.conditions import FACT_TYPES
from rules.ruleset import store
from rules.ruleset.schema import RuleSetInvalid
from rules.ruleset.schema import validate_document
from team.members import members

bp = Blueprint("policy_page", __name__, url_prefix="/orgs/<int:org_id>/rules/drafts")

Document = dict[str, Any]


def draft_or_404(org_id: int, number: int) -> Any:
    try:
        return drafts.draft(web.db(), org_id, number, lock=web.request_writes())
    except store.NoSuchVersion:
        abort(404, f"There is no version {number} of the rules.")
    except drafts.NotADraft as exc:
        abort(409, f"{exc}.")


def render(template: str, org: Organization, version: Any, **context: Any) -> str:
    doc = version.document
    context.setdefault("owner_choices", [])
    return pages.render(
        template,
        org,
        "rules",
        version=version,
        doc=doc,
        words=words,
        can_edit=web.role_in(org.id) == "admin",
        fact_choices=[(k, words.FACTS[k]) for k in FACT_TYPES],
        hold_fact_choices=[(k, words.FACTS[k]) for k in FACT_TYPES if k in CUSTOMER_FACTS],
        ops_choices=list(words.OPS.items()),
        template_choices=[(k, k) for k in doc["templates"]],
        policy_choices=[(p["key"], p["name"] or p["key"]) for p in doc["policies"]],
        **context,
    )


@bp.post("")
def start(org_id: int) -> Response:
    web.current_org(org_id, need="admin")
    source = request.form.get("from", "starter")
    if source not in ("starter", "empty") and not source.isdigit():
        abort(400, "Start a draft from the starter policy, an empty one or a version number.")
    try:
        version = drafts.start(
            web.db(), org_id, source, web.actor(), request.form.get("note", "")[:2000]
        )
    except store.NoSuchVersion as exc:
        abort(404, f"{exc}.")
    web.db().commit()
    flash(
        f"Draft version {version.number} started. Nothing changes until you activate it.", "success"
    )
    return redirect(url_for("policy_page.editor", org_id=org_id, number=version.number))


@bp.get("/<int:number>")
def editor(org_id: int, number: int) -> str:
    org = web.current_org(org_id, need="viewer")
    version = draft_or_404(org_id, number)
    counts, problem = segment_counts(web.db(), org, version.document, web.deadline("segments"))
    return render("policy/editor.html", org, version, counts=counts, counts_problem=problem)


@bp.post("/<int:number>/note")
def note(org_id: int, number: int) -> Response:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    version.note = forms.text(request.form, "note")[:2000]
    web.db().commit()
    flash("Note saved.", "success")
    return _back(org_id, number)


def _back(org_id: int, number: int, anchor: str = "") -> Response:
    url = url_for("policy_page.editor", org_id=org_id, number=number)
    return redirect(f"{url}#{anchor}" if anchor else url)


def save_change(
    org: Organization,
    version: Any,
    change: Callable[[Document], tuple[Document, str]],
    form_page: Callable[[dict[str, str], dict[str, str]], str],
    done: str,
    anchor: str = "",
) -> Any:
    """Apply `change` to a copy of the draft; save it, or show the form again with each
    problem at its field. `change` returns the new document and the error prefix of the part
    the form edits; `form_page(errors, others)` renders the form again."""
    document, prefix = change(copy.deepcopy(version.document))
    try:
        drafts.save(web.db(), org.id, version.number, document)
    except RuleSetInvalid as exc:
        mine, others = forms.field_errors(exc.errors, prefix)
        mine = {field: words.problem(message) for field, message in mine.items()}
        return form_page(mine, others), 422
    web.db().commit()
    flash(done, "success")
    return _back(org.id, version.number, anchor)


def values(data: dict[str, Any]) -> MultiDict:
    return MultiDict(
        [(k, item) for k, v in data.items() for item in (v if isinstance(v, list) else [v])]
    )


# ---------------------------------------------------------------- policies


def find_policy(doc: Document, key: str) -> tuple[int, Document]:
    for i, policy in enumerate(doc["policies"]):
        if policy["key"] == key:
            return i, policy
    abort(404, f"This draft has no policy “{key}”.")


@bp.post("/<int:number>/policies")
def add_policy(org_id: int, number: int) -> Any:
    org = web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    name = forms.text(request.form, "name") or "Standard"
    doc = copy.deepcopy(version.document)
    key = forms.slug(name, {p["key"] for p in doc["policies"]}, "policy")
    # A policy needs a step: it starts with a note on the due date, to be edited.
    doc["policies"].append(
        {
            "key": key,
            "name": name[:200],
            "catch_up": "each_step",
            "steps": [
                {
                    "key": "due",
                    "name": "Due today",
                    "offset_days": 0,
                    "actions": [{"type": "note", "text": "Reached the due date on {{ as_of }}."}],
                }
            ],
        }
    )
    if doc["default_policy"] is None:
        doc["default_policy"] = key
    try:
        drafts.save(web.db(), org_id, number, doc)
    except RuleSetInvalid as exc:
        flash("The policy was not added: " + pages.in_words(exc.errors), "warning")
        return _back(org_id, number)
    web.db().commit()
    flash(f"Policy “{name}” added with one step on the due date; edit it below.", "success")
    return _back(org.id, number, f"policy-{key}")


@bp.post("/<int:number>/policies/<key>/delete")
def delete_policy(org_id: int, number: int, key: str) -> Any:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    doc = copy.deepcopy(version.document)
    i, policy = find_policy(doc, key)
    if not confirm.confirmed():
        name = policy["name"] or key
        return confirm.ask(
            f"Remove policy {name} and its steps?",
            f"Yes, remove policy {name}",
            url_for("policy_page.editor", org_id=org_id, number=number),
        )
    del doc["policies"][i]
    if doc["default_policy"] == key:
        doc["default_policy"] = doc["policies"][0]["key"] if doc["policies"] else None
    return simple_save(org_id, number, doc, f"Policy “{policy['name'] or key}” removed.")


@bp.post("/<int:number>/policies/<key>/default")
def default_policy(org_id: int, number: int, key: str) -> Any:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    doc = copy.deepcopy(version.document)
    find_policy(doc, key)
    doc["default_policy"] = key
    return simple_save(org_id, number, doc, "Default policy set.")


def simple_save(org_id: int, number: int, doc: Document, done: str, anchor: str = "") -> Any:
    try:
        drafts.save(web.db(), org_id, number, doc)
    except RuleSetInvalid as exc:
        flash("Nothing was changed: " + pages.in_words(exc.errors), "warning")
        return _back(org_id, number, anchor)
    web.db().commit()
    flash(done, "success")
    return _back(org_id, number, anchor)


# ---------------------------------------------------------------- steps


def _owners(org_id: int, key: str | None, policy: Document) -> list[tuple[str, str]]:
    """The team by email, and the step's current owner if they are not (or no longer) on it."""
    emails = [m.email for m in members(web.db(), org_id)]
    for step in policy["steps"]:
        for act in step["actions"] if step["key"] == key else []:
            if act["type"] == "task" and act["assignee"] not in emails:
                emails.append(act["assignee"])
    return [(e, e) for e in emails]


def _step_page(org: Organization, version: Any, policy: Document, key: str | None) -> Callable:
    def page(errors: dict[str, str], others: dict[str, str]) -> str:
        return render(
            "policy/step.html",
            org,
            version,
            policy=policy,
            step_key=key,
            values=request.form if request.method == "POST" else _step_values(policy, key),
            errors=errors,
            others=others,
            owner_choices=_owners(org.id, key, policy),
            rows=forms.CONDITION_ROWS,
        )

    return page


def _step_values(policy: Document, key: str | None) -> MultiDict:
    for step in policy["steps"]:
        if step["key"] == key:
            return values(forms.step_to_form(step))
    return values({"timing": "after", "days": "7", "reminder": "on"})


@bp.route("/<int:number>/policies/<policy_key>/steps/new", methods=["GET", "POST"])
@bp.route("/<int:number>/policies/<policy_key>/steps/<step_key>", methods=["GET", "POST"])
def step(org_id: int, number: int, policy_key: str, step_key: str | None = None) -> Any:
    need = "admin" if request.method == "POST" else "viewer"
    org = web.current_org(org_id, need=need)
    version = draft_or_404(org_id, number)
    _, policy = find_policy(version.document, policy_key)
    if step_key is not None and step_key not in {s["key"] for s in policy["steps"]}:
        abort(404, f"Policy “{policy_key}” has no step “{step_key}”.")
    page = _step_page(org, version, policy, step_key)
    if request.method == "GET":
        return page({}, {})

    def change(doc: Document) -> tuple[Document, str]:
        i, target = find_policy(doc, policy_key)
        taken = {s["key"] for s in target["steps"] if s["key"] != step_key}
        name = forms.text(request.form, "name")
        key = step_key or forms.slug(name or "step", taken, "step")
        new = forms.step_from_form(request.form, key)
        kept = [s for s in target["steps"] if s["key"] != step_key]
        steps = kept + [new]
        if all(isinstance(s["offset_days"], int) for s in steps):
            steps.sort(key=lambda s: s["offset_days"])
        target["steps"] = steps
        j = steps.index(new)
        return doc, f"policies[{i}].steps[{j}]"

    def form_page(errors: dict[str, str], others: dict[str, str]) -> str:
        actions = forms.step_actions(request.form)
        mapped = {forms.step_field(k, actions): v for k, v in errors.items()}
        i, _ = find_policy(version.document, policy_key)
        same_day = "another step of this policy is on that day already"
        if "steps must be in order" in mapped.get("days", ""):
            mapped["days"] = same_day  # sorted by day, so out of order means on the same day
        for path in [p for p in others if p.startswith(f"policies[{i}].steps[")]:
            if path.endswith(".offset_days"):  # the neighbour was named: this step's days
                others.pop(path)
                mapped.setdefault("days", same_day)
        return page(mapped, others)

    label = forms.text(request.form, "name") or "the step"
    return save_change(
        org, version, change, form_page, f"Step “{label}” saved.", f"policy-{policy_key}"
    )


@bp.post("/<int:number>/policies/<policy_key>/steps/<step_key>/delete")
def delete_step(org_id: int, number: int, policy_key: str, step_key: str) -> Any:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    doc = copy.deepcopy(version.document)
    _, policy = find_policy(doc, policy_key)
    if len(policy["steps"]) == 1:
        flash("A policy keeps at least one step: remove the policy instead.", "warning")
        return _back(org_id, number, f"policy-{policy_key}")
    if not confirm.confirmed():
        names = {s["key"]: s.get("name") for s in policy["steps"]}
        name = names.get(step_key) or step_key
        return confirm.ask(
            f"Remove step {name}?",
            f"Yes, remove step {name}",
            url_for("policy_page.editor", org_id=org_id, number=number),
        )
    policy["steps"] = [s for s in policy["steps"] if s["key"] != step_key]
    return simple_save(org_id, number, doc, "Step removed.", f"policy-{policy_key}")


@bp.post("/<int:number>/policies/<policy_key>/steps/<step_key>/move")
def move_step(org_id: int, number: int, policy_key: str, step_key: str) -> Any:
    """Earlier or later: the step trades places, and days, with its neighbour (steps stay in
    order of their days, so the timing travels with the place)."""
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    doc = copy.deepcopy(version.document)
    _, policy = find_policy(doc, policy_key)
    steps = policy["steps"]
    keys = [s["key"] for s in steps]
    if step_key not in keys:
        abort(404, f"Policy “{policy_key}” has no step “{step_key}”.")
    i = keys.index(step_key)
    j = i - 1 if request.form.get("direction") == "earlier" else i + 1
    if not 0 <= j < len(steps):
        return _back(org_id, number, f"policy-{policy_key}")
    steps[i]["offset_days"], steps[j]["offset_days"] = (
        steps[j]["offset_days"],
        steps[i]["offset_days"],
    )
    steps[i], steps[j] = steps[j], steps[i]
    last = steps[-1]
    for s in steps[:-1]:
        if s.get("repeat") and not last.get("repeat"):
            last["repeat"], s["repeat"] = s["repeat"], None
    return simple_save(org_id, number, doc, "Step moved.", f"policy-{policy_key}")


# ---------------------------------------------------------------- segments


@bp.route("/<int:number>/segments/new", methods=["GET", "POST"])
@bp.route("/<int:number>/segments/<key>", methods=["GET", "POST"])
def segment(org_id: int, number: int, key: str | None = None) -> Any:
    org = web.current_org(org_id, need="admin" if request.method == "POST" else "viewer")
    version = draft_or_404(org_id, number)
    existing = {s["key"]: s for s in version.document["segments"]}
    if key is not None and key not in existing:
        abort(404, f"This draft has no segment “{key}”.")

    def page(errors: dict[str, str], others: dict[str, str]) -> str:
        errors = {re.sub(r"\[\d+\]$", "", k): v for k, v in errors.items()}  # tags[0] -> tags
        shown = (
            request.form
            if request.method == "POST"
            else values(forms.segment_to_form(existing[key]) if key else {})
        )
        count, problem = _matching(org, version, shown) if key else (None, None)
        return render(
            "policy/segment.html",
            org,
            version,
            key=key,
            values=shown,
            errors=errors,
            others=others,
            count=count,
            problem=problem,
        )

    if request.method == "GET":
        return page({}, {})

    def change(doc: Document) -> tuple[Document, str]:
        name = forms.text(request.form, "name")
        new_key = key or forms.slug(name or "segment", set(existing), "segment")
        new = forms.segment_from_form(request.form, new_key)
        segments = doc["segments"]
        at = next((i for i, s in enumerate(segments) if s["key"] == key), len(segments))
        segments[at : at + 1] = [new]
        return doc, f"segments[{at}]"

    return save_change(org, version, change, page, "Segment saved.", "segments")


@bp.post("/<int:number>/segments/count")
@web.read_only
def segment_count(org_id: int, number: int) -> str:
    """How many of today's customers the segment being typed matches (htmx swaps it in)."""
    org = web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    count, problem = _matching(org, version, request.form)
    return render_template("policy/_count.html", count=count, problem=problem)


def _matching(org: Organization, version: Any, form: Any) -> tuple[int | None, str | None]:
    """Today's customers the segment in `form` matches on its own, or why it cannot say."""
    candidate = forms.segment_from_form(form, "candidate")
    try:
        document = validate_document(dict(version.document, segments=[candidate]))
    except RuleSetInvalid:
        return None, "Fix the fields to see how many customers match."
    counts, problem = segment_counts(web.db(), org, document, web.deadline("segments"))
    return counts.get("candidate"), problem


@bp.post("/<int:number>/segments/<key>/delete")
def delete_segment(org_id: int, number: int, key: str) -> Any:
    web.current_org(org_id, need="admin")
    version = draft_or_404(org_id, number)
    doc = copy.deepcopy(version.document)
    segment = next((s for s in doc["segments"] if s["key"] == key), None)
    if segment is None:
        abort(404, f"This draft has no segment “{key}”.")
    name = segment["name"] or key
    if not confirm.confirmed():
        return confirm.ask(
            f"Remove segment {name}? Its customers move to the next segment that matches them, "
            "or to the default policy.",
            f"Yes, remove segment {name}",
            url_for("policy_page.editor", org_id=org_id, number=number, _anchor="segments"),
        )
    doc["segments"] = [s for s in doc["segments"] if s["key"] != key]
    return simple_save(org_id, number, doc, f"Segment “{name}” removed.", "segments")


# ---------------------------------------------------------------- discounts, holds, limits


@bp.route("/<int:number>/settings", methods=["GET", "POST"])
def settings(org_id: int, number: int) -> Any:
    org = web.current_org(org_id, need="admin" if request.method == "POST" else "viewer")
    version = draft_or_404(org_id, number)
    doc = version.document

    def page(errors: dict[str, str], others: dict[str, str]) -> str:
        shown = request.form if request.method == "POST" else values(forms.settings_to_form(doc))
        return render(
            "policy/settings.html",
            org,
            version,
            values=shown,
            errors=errors,
            others=others,
            hold_rows=max(
                forms.HOLD_ROWS, len((doc.get("credit_hold") or {}).get("place_when_any", [])) + 1
            ),
            cap_rows=max(forms.CAP_ROWS, len(doc["limits"]["caps"]) + 1),
            offer_rows=max(forms.OFFER_ROWS, len(doc["discounts"]["settlement_offers"]) + 1),
            weekdays=words.WEEKDAYS,
        )

    if request.method == "GET":
        return page({}, {})

    def change(document: Document) -> tuple[Document, str]:
        return forms.settings_from_form(request.form, document), ""

    return save_change(org, version, change, page, "Discounts, holds and limits saved.", "settings")
