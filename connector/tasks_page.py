"""Tasks: everyone's open tasks, "my tasks", the done ones; a done button that records who and
when, and changing a task's owner and due date."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from connector import pages
from connector import team as browser_team
from connector import web
from connector.activity import names
from core import team
from core.db import utcnow
from tasks import store
from tasks.models import Task
from tasks.models import TaskStatus

bp = Blueprint("tasks_page", __name__, url_prefix="/orgs/<int:org_id>/tasks")

VIEWS = ("mine", "open", "done")


@bp.get("")
def listing(org_id: int) -> str:
    org = web.current_org(org_id, need="viewer")
    view = request.args.get("view", "open")
    view = view if view in VIEWS else "open"
    me = browser_team.me()
    wanted = store.TaskFilter(
        status=TaskStatus.DONE if view == "done" else TaskStatus.OPEN,
        owner=me if view == "mine" else None,
    )
    total = store.listing(web.db(), org_id, wanted, 1, 0)[1]
    pager = pages.pager(total)
    if view == "mine" and me is None:
        rows: list[Task] = []
        total = 0
    else:
        rows, total = store.listing(web.db(), org_id, wanted, pager.size, pager.offset)
    customers = names(org_id, rows)
    return pages.render(
        "tasks.html",
        org,
        "tasks",
        view=view,
        rows=rows,
        pager=pager,
        me=me,
        today=pages.today(org),
        customers=customers,
        problem=None,
    )


def _back(org_id: int) -> Response:
    """Back to the list the form came from (only ever a page of this organization's tasks)."""
    home = url_for("tasks_page.listing", org_id=org_id)
    wanted = request.form.get("next", "")
    return redirect(wanted if wanted.startswith(home) else home, 303)


@bp.post("/me")
def say_who(org_id: int) -> Response | tuple[str, int]:
    web.current_org(org_id, need="collector")
    try:
        member = browser_team.remember(request.form.get("email"))
    except team.NotAMember as exc:
        flash(str(exc), "warning")
        return redirect(url_for("tasks_page.listing", org_id=org_id, view="mine"), 303)
    flash(f"Showing the tasks of {member}." if member else "Forgotten who you are.", "success")
    return redirect(url_for("tasks_page.listing", org_id=org_id, view="mine"), 303)


@bp.post("/<int:task_id>/done")
def done(org_id: int, task_id: int) -> Response:
    web.current_org(org_id, need="collector")
    try:
        task = store.complete(web.db(), org_id, task_id, browser_team.actor(), utcnow())
    except store.TaskProblem as exc:
        web.db().rollback()
        flash(str(exc), "warning")
        return _back(org_id)
    web.db().commit()
    flash(f"Done: {task.title} (by {task.done_by}).", "success")
    return _back(org_id)


@bp.post("/<int:task_id>/reopen")
def reopen(org_id: int, task_id: int) -> Response:
    web.current_org(org_id, need="collector")
    try:
        task = store.reopen(web.db(), org_id, task_id, utcnow())
    except store.TaskProblem as exc:
        flash(str(exc), "warning")
        return _back(org_id)
    web.db().commit()
    flash(f"Reopened: {task.title}.", "success")
    return _back(org_id)


@bp.post("/<int:task_id>")
def change(org_id: int, task_id: int) -> Response:
    web.current_org(org_id, need="collector")
    try:
        owner = team.member_from_form(request.form.get("owner"))
        due = pages.form_dates(request.form.get("due_on"), "due date")
        if due is None:
            raise pages.FormProblem({"due date": "give the day it is due"})
        task = store.reassign(web.db(), org_id, task_id, owner, due, utcnow())
    except (team.NotAMember, store.TaskProblem, pages.FormProblem) as exc:
        web.db().rollback()
        flash(f"Task {task_id} not changed: {exc}", "warning")
        return _back(org_id)
    web.db().commit()
    flash(f"{task.title}: owner {team.label(task.owner)}, due {task.due_on}.", "success")
    return _back(org_id)
