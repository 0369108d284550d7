"""Activity (the outbox as a filterable list; an action's message, reference, history and why;
approve, reject, retry, cancel) and tasks (made from task actions; my tasks; done)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.db import session_scope
from outbox.models import Action
from outbox.models import ActionEvent
from outbox.models import ActionStatus as S
from tasks.models import Task
from tasks.store import adopt_task_actions
from tests.connector.test_dashboard_page import seeded
from tests.insights.seed import action


def sessions(client):
    return client.application.extensions["dunwell"]["sessions"]


def token(client, url: str) -> str:
    return client.get(url).text.split('name="csrf_token" value="')[1].split('"')[0]


def with_actions(client) -> tuple[int, dict[str, int]]:
    org_id = seeded(client)
    with session_scope(sessions(client)) as db:
        ids = {
            "sent": action(
                db, org_id, "reminder", "A", S.SENT,
                rendered_subject="Invoice A-1 is overdue",
                rendered_body="Dear Acme, 400.00 is due.",
                provider_reference="<dw-123@mail.dunwell.test>", payload={"to": "a@example.test"},
            ),
            "failed": action(db, org_id, "note", "B", S.FAILED, reason="Xero refused: locked"),
            "waiting": action(db, org_id, "reminder", "C", S.AWAITING_APPROVAL),
            "task": action(
                db, org_id, "task", "C", S.PLANNED,
                payload={"invoice": "C-2", "text": "Call Cedar about C-2",
                         "assignee": "Jo@Larkspur.test"},
            ),
        }  # fmt: skip
        adopt_task_actions(db, org_id)
    return org_id, ids


def test_activity_lists_and_filters(client):
    org_id, ids = with_actions(client)
    html = client.get(f"/orgs/{org_id}/activity").text
    assert all(f"#{i}" in html for i in ids.values())
    failed = client.get(f"/orgs/{org_id}/activity?status=failed").text
    assert f"Note #{ids['failed']}" in failed and f"#{ids['sent']}" not in failed
    by_name = client.get(f"/orgs/{org_id}/activity?customer=acme").text
    assert f"#{ids['sent']}" in by_name and f"#{ids['failed']}" not in by_name
    assert f"#{ids['task']}" in client.get(f"/orgs/{org_id}/activity?kind=task").text
    dated = client.get(f"/orgs/{org_id}/activity?since=2026-03-15").text
    assert "Nothing matches" in dated
    assert client.get(f"/orgs/{org_id}/activity?since=yesterday").status_code == 400


def test_an_action_shows_its_message_reference_history_and_why(client):
    org_id, ids = with_actions(client)
    html = client.get(f"/orgs/{org_id}/activity/{ids['sent']}").text
    assert "Invoice A-1 is overdue" in html and "Dear Acme, 400.00 is due." in html
    assert "&lt;dw-123@mail.dunwell.test&gt;" in html
    assert "by rule set “Standard” version 2, rule policy:std, step firm" in html
    assert "the invoice balance more than 50; it was 400.00: met" in html
    assert "pause checked: dispute: not in force" in html
    assert client.get(f"/orgs/{org_id}/activity/999999").status_code == 404


def test_approve_retry_and_cancel(client):
    org_id, ids = with_actions(client)
    url = f"/orgs/{org_id}/activity/{ids['waiting']}"
    assert client.post(f"{url}/approve", data={"csrf_token": token(client, url)}).status_code == 303
    url = f"/orgs/{org_id}/activity/{ids['failed']}"
    assert client.post(f"{url}/retry", data={"csrf_token": token(client, url)}).status_code == 303
    url = f"/orgs/{org_id}/activity/{ids['task']}"
    sure = {"csrf_token": token(client, url), "confirmed": "yes"}
    assert client.post(f"{url}/cancel", data=sure).status_code == 303
    again = client.post(f"{url}/cancel", data=sure)
    assert again.status_code == 409 and "cannot be cancelled" in again.text
    with session_scope(sessions(client)) as db:
        status = dict(db.execute(select(Action.id, Action.status)).all())
        assert status[ids["waiting"]] == S.PLANNED and status[ids["failed"]] == S.PLANNED
        assert status[ids["task"]] == S.CANCELLED
        actors = db.scalars(select(ActionEvent.actor).where(ActionEvent.action_id == ids["failed"]))
        assert [a.split("@")[1] for a in actors] == ["example.com"]  # the signed-in user


def test_task_actions_become_tasks_and_done_records_who_and_when(client):
    org_id, ids = with_actions(client)
    with session_scope(sessions(client)) as db:
        task = db.scalars(select(Task)).one()
        assert (task.title, task.owner, task.due_on, task.action_id) == (
            "Call Cedar about C-2", "jo@larkspur.test", date(2026, 3, 14), ids["task"]
        )  # fmt: skip
        assert adopt_task_actions(db, org_id) == []  # never twice
    tasks_url = f"/orgs/{org_id}/tasks"
    assert "Call Cedar about C-2" in client.get(tasks_url).text
    mine = client.get(f"{tasks_url}?view=mine").text
    assert "Call Cedar" not in mine  # the signed-in user is not its owner
    client.post(
        f"{tasks_url}/me",
        data={"csrf_token": token(client, tasks_url), "email": "JO@larkspur.test"},
    )
    assert "Call Cedar about C-2" in client.get(f"{tasks_url}?view=mine").text
    bad = client.post(
        f"{tasks_url}/{task.id}",
        data={"csrf_token": token(client, tasks_url), "owner": "sam", "due_on": "2026-04-01"},
    )
    assert bad.status_code == 303
    assert "not an email address" in client.get(tasks_url).text
    done = client.post(
        f"{tasks_url}/{task.id}/done",
        data={"csrf_token": token(client, tasks_url), "next": "https://evil.test/"},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(tasks_url)
    with session_scope(sessions(client)) as db:
        task = db.get(Task, task.id)
        assert task.status == "done" and task.done_by.endswith("@example.com")  # who pressed
        assert task.done_at is not None
    assert "done" in client.get(f"{tasks_url}?view=done").text
    assert "Task done: Call Cedar about C-2" in client.get(f"/orgs/{org_id}/customers/C").text


def test_a_task_whose_action_was_cancelled_is_not_shown(client):
    org_id, ids = with_actions(client)
    with session_scope(sessions(client)) as db:
        db.get(Action, ids["task"]).status = S.CANCELLED
    assert "Call Cedar" not in client.get(f"/orgs/{org_id}/tasks").text
