"""The rule editor in headless Chromium: a policy built from nothing through the forms only
(three steps, a template with a placeholder inserted by a click, a credit-hold threshold, a
2%/10-day discount), previewed, saved as a draft, compared with the active version, activated,
and its written policy downloaded as a PDF whose text is checked. Each page meets the bar
(axe-core, a 390 px phone, no console error); the JSON view saves the very same document."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from connector import create_app
from connector.sessions import COOKIE_NAME
from core.db import Base
from core.db import make_engine
from core.db import make_session_factory
from core.db import session_scope
from core.db import utcnow
from rules.ruleset import store
from rules.ruleset.defaults import starter
from tests.conftest import _load_all_models
from tests.connector.conftest import signed_in_token
from tests.e2e.pages import WIDE
from tests.e2e.pages import Watch
from tests.e2e.pages import meets_the_bar
from tests.e2e.pages import once_confirm_js_ran
from tests.insights.seed import seed
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def site(settings, redis, tmp_path) -> Iterator[dict]:
    """Dunwell on a seeded SQLite database with the starter policy active, in a thread."""
    _load_all_models()
    url = f"sqlite:///{tmp_path / 'editor.sqlite3'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as db:
        org = seed(db)
        org.last_synced_at = utcnow()
        db.flush()
        store.save_version(db, org.id, starter(), activate=True, note="starter")
        org_id = org.id
    token = signed_in_token(sessions, org_id, role="admin", email="pat@larkspur.test")
    app = create_app(settings.with_changes(database_url=url))
    with serve(app) as base:
        yield {"base": base, "org": org_id, "token": token, "sessions": sessions}
    app.extensions["dunwell"]["engine"].dispose()
    engine.dispose()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport=WIDE, accept_downloads=True)
    context.add_cookies([{"name": COOKIE_NAME, "value": site["token"], "url": site["base"]}])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    watch = Watch()
    watch.attach(page)
    yield page
    context.close()
    assert watch.errors == []


def saved(page, text: str) -> None:
    expect(page.locator(".flash").first).to_contain_text(text)


def add_step(page, name: str, timing: str, days: str, check: bool = False) -> None:
    page.get_by_role("link", name="Add a step to Standard").click()
    if check:
        meets_the_bar(page, "rules-step")
    fill_step(page, name, timing, days)


def fill_step(page, name: str, timing: str, days: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("When").select_option(timing)
    page.get_by_label("How many days").fill(days)
    page.get_by_label("Send the customer a reminder email").check()
    page.get_by_label("Template").select_option("friendly")
    page.get_by_label("Add a note in the accounting system").uncheck()
    page.get_by_role("button", name="Save the step").click()
    saved(page, f"Step “{name}” saved")


def test_a_policy_built_from_nothing_through_the_forms(page, site):
    page.goto(f"{site['base']}/orgs/{site['org']}/rules")
    page.get_by_label("Start a new draft from").select_option("empty")
    page.get_by_role("button", name="Start a draft").click()
    saved(page, "Draft version 2 started")
    draft_url = page.url

    # A template, its placeholders inserted by a click, previewed for a real customer.
    page.get_by_role("link", name="Add a template").click()
    page.get_by_label("Name", exact=True).fill("Friendly")
    page.get_by_label("Subject").fill("Payment reminder from ")
    page.get_by_role("button", name="Your business's name").click()
    page.get_by_label("Body").fill("Dear ")
    page.get_by_role("button", name="Customer's name").click()
    page.get_by_label("Body").press("End")
    page.get_by_label("Body").type(",\n\nPlease pay.\n")
    page.get_by_label("Preview for").select_option(label="Acme Ltd")
    rendered = page.locator("#rendered")
    expect(rendered).to_contain_text("Dear Acme Ltd,")
    expect(rendered).to_contain_text("Subject: Payment reminder from Larkspur Landscaping")
    expect(rendered.locator(".html-message p").first).to_have_text("Dear Acme Ltd,")
    page.get_by_label("Subject").fill("Hello {{ custmer.name }}")
    expect(rendered).to_contain_text("'custmer' is undefined")
    meets_the_bar(page, "rules-template")
    page.get_by_label("Subject").fill("Payment reminder from {{ organization.name }}")
    page.get_by_role("button", name="Save the template").click()
    saved(page, "Template “friendly” saved")

    # A policy of three steps.
    page.get_by_label("New policy's name").fill("Standard")
    page.get_by_role("button", name="Add a policy").click()
    saved(page, "Policy “Standard” added")
    page.get_by_role("link", name="Edit Due today").click()
    fill_step(page, "Due soon", "before", "3")
    add_step(page, "A week late", "after", "7")
    add_step(page, "A month late", "after", "30", check=True)
    timeline = page.locator("#policy-standard ol.timeline li.step .when")
    expect(timeline).to_have_text(
        ["3 days before the due date", "7 days after the due date", "30 days after the due date"]
    )
    meets_the_bar(page, "rules-editor")

    # A segment, its customers counted as it is typed (htmx), then saved.
    page.get_by_role("link", name="Add a segment").click()
    page.get_by_label("Name", exact=True).fill("Euro customers")
    page.get_by_label("Policy").select_option("standard")
    count = page.locator("#segment-count")
    expect(count).to_contain_text("3 of today's customers match it")  # no filter yet: all
    page.get_by_label("Currencies").fill("EUR")  # the mirror knows no customer's currency
    expect(count).to_contain_text("0 of today's customers match it")
    meets_the_bar(page, "rules-segment")
    page.get_by_role("button", name="Save the segment").click()
    saved(page, "Segment saved")
    expect(page.locator('td[data-segment="euro-customers"]')).to_have_text("0")

    # A mistake is shown at its field; then the discount and the credit-hold threshold.
    page.get_by_role("link", name="Edit discounts, holds and limits").click()
    page.get_by_label("Offer a discount for paying early").check()
    page.get_by_label("Discount (%)").fill("200")
    page.get_by_label("If paid within (days of the invoice date)").fill("10")
    hold = page.locator("fieldset.condition", has_text="Condition 1")
    hold.get_by_label("What is tested").select_option("customer_total_overdue")
    hold.get_by_label("How").select_option("gte")
    hold.get_by_label("Value").fill("5000")
    hold.get_by_label("Currency").fill("USD")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#f-discounts-early_payment-percent-error")).to_contain_text("100")
    meets_the_bar(page, "rules-settings-error")
    page.get_by_label("Discount (%)").fill("2")
    page.get_by_role("button", name="Save", exact=True).click()
    saved(page, "Discounts, holds and limits saved")

    # Preview: the exact message per customer, and why.
    page.get_by_role("link", name="Preview today").click()
    expect(page.locator("h1")).to_contain_text("What version 2 would do today")
    message = page.locator(".customer-preview", has_text="Acme Ltd").first
    expect(message).to_contain_text("Subject: Payment reminder from Larkspur Landscaping")
    message.locator("summary").first.click()
    expect(message.locator("details").first).to_contain_text("Decided on")
    meets_the_bar(page, "rules-preview")

    # Backtest beside the active rules: a chart per week with its table, what is approximate.
    page.goto(draft_url)
    page.get_by_role("link", name="Backtest").click()
    expect(page.locator("h1")).to_contain_text("beside the active version 1")
    chart = page.locator("img.chart")
    expect(chart).to_have_attribute("alt", re.compile("per week"))
    page.wait_for_function("() => document.querySelector('img.chart').naturalWidth > 0")
    expect(page.locator("ul.approximate")).to_contain_text("Do-not-contact, tags and segments")
    meets_the_bar(page, "rules-backtest")

    # Saved as a draft with a note; compared with the active version, in words.
    page.goto(draft_url)
    page.get_by_label("Note for this version").fill("built through the forms")
    page.get_by_role("button", name="Save note").click()
    saved(page, "Note saved")
    page.get_by_role("link", name="Compare with other versions").click()
    diff = page.locator("ul.diff")
    expect(diff).to_contain_text("Early-payment discount changed")
    expect(diff).to_contain_text("now: 2% off if paid within 10 days")
    expect(diff).to_contain_text("Credit hold changed")
    expect(page.locator("tr[data-version='2']")).to_contain_text("built through the forms")
    meets_the_bar(page, "rules-versions")

    # Activated; the written policy names the version, as a page and as a PDF.
    once_confirm_js_ran(page)
    page.get_by_role("button", name="Activate version 2").click()
    saved(page, "Version 2 is active")
    expect(page.locator("tr[data-version='2']")).to_contain_text("active")
    page.goto(f"{site['base']}/orgs/{site['org']}/rules/written")
    expect(page.locator(".written .meta")).to_contain_text("version 2")
    meets_the_bar(page, "rules-written")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as PDF").click()
    data = download.value.path().read_bytes()
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    text = re.sub(r"\s+", " ", text)
    assert "Version 2 of the rules" in text
    assert "3 days before the due date: send the reminder “friendly” by email." in text
    assert "2% off if paid within 10 days" in text
    assert "The customer's total overdue in USD is at least 5000." in text

    # The JSON view saves the very document the forms built.
    with session_scope(site["sessions"]) as db:
        built = store.get_version(db, site["org"], 2).document
    page.goto(f"{site['base']}/orgs/{site['org']}/rules")
    assert json.loads(page.locator("#document").input_value()) == built
    page.locator("#document").fill(json.dumps(built))
    page.get_by_label("make it active when saved").uncheck()
    page.get_by_role("button", name="Save as a new version").click()
    saved(page, "Version 3 saved (not active yet)")
    with session_scope(site["sessions"]) as db:
        assert store.get_version(db, site["org"], 3).document == built
