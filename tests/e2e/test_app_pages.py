"""The organization pages in headless Chromium, as a finance admin and a collector use them:
the dashboard, the first sync's progress, customers (every control), activity (approve, retry,
cancel) and tasks (my tasks, owner and due date, done). Each page passes axe-core (no serious or
critical violation) at 1280 and 390 px, never scrolls sideways on a phone, logs no console error
(a CSP violation is one), and is screenshotted under artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy import update

from connector import create_app
from connector.sessions import COOKIE_NAME
from core.db import Base
from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.db import utcnow
from core.models import Organization
from core.models import SyncCursor
from outbox.models import Action
from outbox.models import ActionStatus as S
from rules.pauses.models import Dispute
from tasks.models import Task
from tasks.store import adopt_task_actions
from tests.conftest import _load_all_models
from tests.connector.conftest import signed_in_token
from tests.e2e.pages import WIDE
from tests.e2e.pages import Watch
from tests.e2e.pages import meets_the_bar
from tests.e2e.pages import once_confirm_js_ran
from tests.insights.seed import action
from tests.insights.seed import seed
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def site(settings, redis, tmp_path) -> Iterator[dict]:
    """Dunwell on a seeded SQLite database, served in a thread; a browser session signed in."""
    _load_all_models()
    url = f"sqlite:///{tmp_path / 'pages.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as db:
        org = seed(db)
        org.last_synced_at = utcnow()
        ids = {
            "sent": action(db, org.id, "reminder", "A", S.SENT,
                           rendered_subject="Invoice A-1 is overdue",
                           rendered_body="Dear Acme Ltd,\n\nInvoice A-1 for 400.00 USD is overdue.",
                           provider_reference="<dw-1@mail.dunwell.test>",
                           payload={"to": "a@example.test"}),
            "failed": action(db, org.id, "note", "B", S.FAILED, reason="refused: period locked",
                             payload={"text": "Chased by phone"}),
            "waiting": action(db, org.id, "note", "C", S.AWAITING_APPROVAL,
                              payload={"text": "Second notice"}),
            "task": action(db, org.id, "task", "C", S.PLANNED,
                           payload={"invoice": "C-2", "text": "Call Cedar about C-2",
                                    "assignee": "jo@larkspur.test"}),
        }  # fmt: skip
        adopt_task_actions(db, org.id)
        org_id = org.id
    token = signed_in_token(sessions, org_id, role="admin", email="pat@larkspur.test")
    app = create_app(settings.with_changes(database_url=url))
    with serve(app) as base:
        yield {"base": base, "org": org_id, "token": token, "ids": ids, "sessions": sessions}
    app.extensions["dunwell"]["engine"].dispose()
    engine.dispose()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport=WIDE)
    context.add_cookies([{"name": COOKIE_NAME, "value": site["token"], "url": site["base"]}])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    watch = Watch()
    watch.attach(page)
    yield page
    context.close()
    assert watch.errors == []


def org_url(site: dict, path: str = "") -> str:
    return f"{site['base']}/orgs/{site['org']}/{path}"


def test_dashboard_and_a_page_a_person_can_act_on(page, site):
    page.goto(org_url(site))
    expect(page.locator("h1")).to_contain_text("Dashboard")
    expect(page.locator('tfoot tr[data-currency="home"] td').last).to_have_text("3,350.00")
    for name in ("aging", "trend", "reasons"):
        image = page.locator(f'img[src*="/charts/{name}.svg"]')
        expect(image).to_have_attribute("alt", re.compile(r"\w"))
        assert page.evaluate("(img) => img.naturalWidth", image.element_handle()) > 0
    expect(page.get_by_role("link", name=re.compile("1 failed write"))).to_be_visible()
    meets_the_bar(page, "dashboard")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Birch GmbH").click()
    expect(page.locator("h1")).to_contain_text("Birch GmbH")

    missing = page.goto(org_url(site, "customers/NOBODY"))
    assert missing is not None and missing.status == 404
    expect(page.locator(".message")).to_contain_text("Find them by name on the Customers page")
    meets_the_bar(page, "not-found")


def test_first_sync_progress_is_live_and_its_message_goes_when_it_ends(page, site):
    with session_scope(site["sessions"]) as db:
        db.execute(update(Organization).values(last_synced_at=None, sync_started_at=utcnow()))
        db.add(SyncCursor(organization_id=site["org"], entity="customer", records_seen=3,
                          full_completed_at=utcnow()))  # fmt: skip
        db.add(SyncCursor(organization_id=site["org"], entity="invoice", records_seen=200))
    page.goto(org_url(site))
    live = page.locator(".progress-live")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_contain_text("First sync in progress")
    expect(live.locator(".entity-invoice, li").nth(1)).to_contain_text("200")
    meets_the_bar(page, "first-sync")
    with session_scope(site["sessions"]) as db:
        db.execute(update(SyncCursor).values(records_seen=SyncCursor.records_seen + 50))
    expect(live).to_contain_text("250", timeout=10_000)  # arrives without a reload
    with session_scope(site["sessions"]) as db:
        db.execute(update(SyncCursor).values(full_completed_at=utcnow()))
        db.execute(update(Organization).values(last_synced_at=utcnow()))
    expect(live).to_contain_text("Sync finished", timeout=10_000)
    expect(page.locator("#flashes")).to_contain_text("has finished")


def test_customers_list_and_every_control(page, site):
    page.goto(org_url(site, "customers"))
    rows = page.locator("table.list tbody tr th a")
    expect(rows).to_have_text(["Birch GmbH", "Acme Ltd", "Cedar & Sons"])
    meets_the_bar(page, "customers")
    page.get_by_label("Name").fill("ced")
    page.get_by_role("button", name="Find").click()
    expect(rows).to_have_text(["Cedar & Sons"])
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("On hold").check()
    page.get_by_role("button", name="Find").click()
    expect(rows).to_have_text(["Acme Ltd"])
    rows.first.click()
    expect(page.locator("h1")).to_have_text("Acme Ltd")
    meets_the_bar(page, "customer")

    def flash(text: str) -> None:
        expect(page.locator(".flash")).to_contain_text(text)

    page.get_by_label("Invoice number").first.fill("A-9")
    page.get_by_role("button", name="Open dispute").click()
    expect(page.locator(".problems")).to_contain_text("Acme Ltd has no invoice numbered A-9")
    meets_the_bar(page, "customer-form-error")
    page.get_by_label("Invoice number").first.fill("A-2")
    page.locator("#dispute-reason").select_option("quality")
    page.locator("#dispute-note").fill("Scratched on delivery")
    page.get_by_role("button", name="Open dispute").click()
    flash("Dispute opened on invoice A-2")
    page.locator("#close-resolution").fill("Credit note agreed")
    page.get_by_role("button", name="Close dispute").click()
    flash("Dispute on invoice A-2 closed")

    until = (date.today() + timedelta(days=20)).isoformat()
    page.locator("#promise-until").fill(until)
    page.locator("#promise-amount").fill("400")
    page.get_by_role("button", name="Record promise").click()
    flash(f"Promise to pay by {until} recorded")
    page.get_by_role("button", name="Cancel promise").click()
    flash(f"Promise to pay by {until} cancelled")

    plan = page.locator("form[action$='/plans']")
    plan.get_by_label(re.compile("A-1")).check()
    page.locator("#due_1").fill(until)
    page.locator("#amount_1").fill("200")
    page.locator("#due_2").fill((date.today() + timedelta(days=50)).isoformat())
    page.locator("#amount_2").fill("200")
    page.get_by_role("button", name="Record plan").click()
    flash("Payment plan of 400.00 USD in 2 instalments recorded")
    page.get_by_role("button", name="Cancel plan").click()
    flash("cancelled; dunning resumes")

    page.locator("#contact-reason").fill("Asked for letters only")
    page.get_by_role("button", name="Do not contact").click()
    flash("Acme Ltd is do-not-contact")
    page.get_by_role("button", name="Allow contact again").click()
    flash("may be contacted again")

    page.get_by_role("button", name="Release the hold").click()
    flash("Credit hold on Acme Ltd released; it is being written to QuickBooks Online")
    page.locator("#hold-reason").fill("Ninety days late")
    page.get_by_role("button", name="Place on hold").click()
    flash("Credit hold placed on Acme Ltd")

    page.locator("#profile-owner").fill("kim@larkspur.test")
    page.locator("#profile-tags").fill("key-account, retail")
    page.get_by_role("button", name="Save").click()
    flash("owner kim@larkspur.test, tags key-account, retail")
    expect(page.locator(".timeline")).to_contain_text("Credit hold placed (by hand)")
    page.locator(".timeline details").first.click()
    expect(page.locator(".timeline")).to_contain_text("Reminder")
    meets_the_bar(page, "customer-after-controls")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export contact history (CSV)").click()
    text = download.value.path().read_text()
    assert (
        text.startswith("customer,customer_id,when,kind")
        and "Dispute opened on invoice A-2" in text
    )
    page.goto(org_url(site, "customers"))
    with page.expect_download() as everyone:
        page.get_by_role("link", name="Export all contact history (CSV)").click()
    assert "Cedar & Sons" in everyone.value.path().read_text()
    with session_scope(site["sessions"]) as db:
        holds = db.scalars(select(Action.kind).where(Action.rule == "manual").order_by(Action.id))
        assert list(holds) == ["release_hold", "credit_hold"]
        assert (
            db.scalars(select(Dispute.resolution).where(Dispute.customer_external_id == "A")).one()
            == "Credit note agreed"
        )


def test_activity_filters_opens_the_exact_message_and_approves_retries_cancels(page, site):
    ids = site["ids"]
    page.goto(org_url(site, "activity"))
    meets_the_bar(page, "activity")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"Note #{ids['failed']}").click()
    expect(page.locator("h1")).to_contain_text("Note for Birch GmbH")
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash")).to_contain_text(f"Action {ids['failed']} retrying")

    page.goto(org_url(site, f"activity/{ids['sent']}"))
    expect(page.locator("pre.message").first).to_contain_text(
        "Invoice A-1 for 400.00 USD is overdue"
    )
    expect(page.locator("dl.facts").first).to_contain_text("<dw-1@mail.dunwell.test>")
    expect(page.get_by_role("region", name="Why")).to_contain_text("it was 400.00: met")
    expect(page.locator("#history-title")).to_have_text("History")
    meets_the_bar(page, "activity-action")

    page.goto(org_url(site, f"activity/{ids['waiting']}"))
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".flash")).to_contain_text("approved")
    once_confirm_js_ran(page)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".flash")).to_contain_text("cancelled")
    with session_scope(site["sessions"]) as db:
        assert db.get(Action, ids["waiting"]).status == S.CANCELLED
        assert db.get(Action, ids["failed"]).status == S.PLANNED


def test_tasks_my_tasks_owner_due_date_and_done(page, site):
    page.goto(org_url(site, "tasks"))
    expect(page.locator(".task")).to_contain_text("Call Cedar about C-2")
    meets_the_bar(page, "tasks")
    page.get_by_role("link", name="My tasks").click()
    page.get_by_label(re.compile("Who are you|You are")).fill("jo@larkspur.test")
    page.get_by_role("button", name=re.compile("Show my tasks|Change")).click()
    expect(page.locator(".task")).to_contain_text("Call Cedar about C-2")
    meets_the_bar(page, "my-tasks")
    page.locator(".task details summary").click()
    page.get_by_label("Due").fill((date.today() + timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("owner jo@larkspur.test, due")
    page.get_by_role("button", name=re.compile("^Done: Call Cedar")).click()
    expect(page.locator(".flash")).to_contain_text("(by pat@larkspur.test)")
    page.get_by_role("link", name="Done", exact=True).click()
    expect(page.locator(".task")).to_contain_text("by pat@larkspur.test")
    with session_scope(site["sessions"]) as db:
        task = db.scalars(select(Task)).one()
        assert (task.status, task.done_by) == ("done", "pat@larkspur.test")
