"""The admin page in headless Chromium, as a person uses it: connect through the provider's
consent page, watch the mirror fill in, see a payment arrive by webhook without reloading,
disconnect, purge. Midway the organization is renamed to a name built to break out of HTML and
JavaScript: it must show as text, the confirmations must still ask about it, and the browser
must report no Content-Security-Policy violation anywhere."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import update

from core.db import make_engine
from core.models import Organization
from tests.e2e.pages import meets_the_bar
from tests.e2e.pages import once_confirm_js_ran

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NASTY = "Joe's Plumbing\"><script>alert(1)</script>"


def rename_organizations(database_url: str, name: str) -> None:
    """As if the provider's company name had changed to `name` (it is stored at connect)."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(Organization).values(name=name))
    engine.dispose()


def test_connect_watch_a_payment_arrive_disconnect_and_purge(stack, browser, tmp_path):
    page = browser.new_page()
    dialogs: list[tuple[str, str]] = []
    console: list[str] = []

    def answer(dialog) -> None:  # "Disconnect …?" and "Delete …?"
        dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    page.on("dialog", answer)
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    page.goto(stack.web_url + "/")
    page.get_by_role("button", name="Connect to QuickBooks Online").click()

    expect(page).to_have_url(re.compile(re.escape(stack.sandbox_url)))
    page.get_by_role("button", name="Connect").click()

    expect(page.locator(".flash")).to_contain_text("Connected Larkspur Landscaping")
    card = page.locator("section.org").first
    expect(card.locator("h2")).to_contain_text("Larkspur Landscaping")
    expect(card.locator('[data-field="last_synced_at"]')).not_to_have_text("never", timeout=60_000)
    expect(card.locator('[data-count="invoices"]')).not_to_have_text("0")
    usd_total = card.locator('tr[data-currency="USD"] td[data-bucket="total"]')
    expect(usd_total).to_be_visible()
    page.screenshot(path=str(tmp_path / "after-backfill.png"), full_page=True)

    summary = requests.get(f"{stack.sandbox_url}/_sandbox/quickbooks/companies", timeout=10).json()
    realm = summary["companies"][0]["realm_id"]
    sandbox_open = requests.get(
        f"{stack.sandbox_url}/_sandbox/quickbooks/{realm}/summary", timeout=10
    ).json()["open_balance"]["USD"]
    assert usd_total.inner_text().replace(",", "") == f"{float(sandbox_open):.2f}"

    before = usd_total.inner_text()
    sandbox = browser.new_page()
    sandbox.goto(stack.sandbox_url + "/_sandbox/")
    sandbox.get_by_role("button", name="Pay in full").first.click()
    expect(sandbox.get_by_text("paid").first).to_be_visible()

    expect(usd_total).not_to_have_text(before, timeout=30_000)  # no reload: the page polls
    after_payment = requests.get(
        f"{stack.sandbox_url}/_sandbox/quickbooks/{realm}/summary", timeout=10
    ).json()["open_balance"]["USD"]
    expect(usd_total).to_have_text(f"{float(after_payment):,.2f}")
    page.screenshot(path=str(tmp_path / "after-payment.png"), full_page=True)

    rename_organizations(stack.database_url, NASTY)
    page.reload()
    expect(card.locator("h2")).to_contain_text(NASTY)
    card.locator("a.button", has_text="Rules").click()
    expect(page.locator("h1")).to_contain_text(f"Collection rules for {NASTY}")
    page.get_by_role("button", name="Preview today").click()
    expect(page.locator("section.preview h2")).to_contain_text("What it would do today")
    page.screenshot(path=str(tmp_path / "rules-preview.png"), full_page=True)
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator(".flash")).to_contain_text("Version 1 saved and active")
    page.get_by_role("link", name="← Connections").click()

    once_confirm_js_ran(page)
    card.get_by_role("button", name="Disconnect").click()
    expect(page.locator(".flash")).to_contain_text(f"Disconnected {NASTY}")
    expect(card.locator('[data-field="status"]')).to_have_text("disconnected")
    once_confirm_js_ran(page)
    card.get_by_role("button", name="Purge data").click()
    expect(page.locator(".flash")).to_contain_text(f"Purged every record of {NASTY}")
    expect(page.locator("section.org")).to_have_count(0)

    assert dialogs == [
        ("confirm", f"Disconnect {NASTY}? Dunwell stops syncing and acting for it; "
                    "its data stays until you purge it."),
        ("confirm", f"Delete every record Dunwell holds for {NASTY}? This cannot be undone."),
    ]  # fmt: skip
    violations = [line for line in console if "Content Security Policy" in line]
    assert violations == [] and not [line for line in console if line.startswith("pageerror")]


def connect(page, stack):
    """Larkspur Landscaping connected through the sandbox's consent page; its card."""
    page.goto(stack.web_url + "/")
    page.get_by_role("button", name="Connect to QuickBooks Online").click()
    page.get_by_role("button", name="Connect").click()
    card = page.locator("section.org").first
    expect(card.locator("h2")).to_contain_text("Larkspur Landscaping")
    return card


def test_a_declined_confirmation_sends_nothing(stack, browser):
    """However early the click comes: declined in the dialog, or (before confirm.js ran) asked
    on the confirmation page and answered "No", the organization stays connected."""
    page = browser.new_page()
    card = connect(page, stack)
    page.on("dialog", lambda dialog: dialog.dismiss())
    card.get_by_role("button", name="Disconnect").click()  # maybe before confirm.js ran
    page.goto(stack.web_url + "/")
    expect(card.get_by_role("button", name="Disconnect")).to_be_visible()
    expect(card.locator('[data-field="status"]')).not_to_have_text("disconnected")

    page.route("**/static/confirm.js", lambda route: route.abort())  # the earliest click
    page.goto(stack.web_url + "/")
    card.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    expect(page.locator(".question")).to_have_text(
        "Disconnect Larkspur Landscaping? Dunwell stops syncing and acting for it; "
        "its data stays until you purge it."
    )
    meets_the_bar(page, "confirm")
    page.get_by_role("link", name="No, go back").click()
    expect(card.get_by_role("button", name="Disconnect")).to_be_visible()
    expect(card.locator('[data-field="status"]')).not_to_have_text("disconnected")


def test_with_scripts_off_only_yes_on_the_confirmation_page_disconnects(stack, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    card = connect(page, stack)
    status = card.locator('[data-field="status"]')

    card.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("heading", name="Are you sure?")).to_be_visible()
    page.get_by_role("link", name="No, go back").click()
    expect(status).not_to_have_text("disconnected")

    card.get_by_role("button", name="Disconnect").click()
    expect(page.locator(".question")).to_contain_text("Disconnect Larkspur Landscaping?")
    page.get_by_role("button", name="Yes, disconnect").click()
    expect(page.locator(".flash")).to_contain_text("Disconnected Larkspur Landscaping")
    expect(status).to_have_text("disconnected")

    card.get_by_role("button", name="Purge data").click()
    expect(page.locator(".question")).to_contain_text("Delete every record Dunwell holds")
    page.get_by_role("button", name="Yes, purge its data").click()
    expect(page.locator(".flash")).to_contain_text("Purged every record of Larkspur Landscaping")
    expect(page.locator("section.org")).to_have_count(0)
    context.close()
