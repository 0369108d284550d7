"""The admin page in headless Chromium, as a person uses it: connect through the provider's
consent page, watch the mirror fill in, see a payment arrive by webhook without reloading,
disconnect, purge."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_connect_watch_a_payment_arrive_disconnect_and_purge(stack, browser, tmp_path):
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Disconnect …?" and "Delete …?"
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

    card.locator("a.button", has_text="Rules").click()
    expect(page.locator("h1")).to_contain_text("Collection rules for Larkspur Landscaping")
    page.get_by_role("button", name="Preview today").click()
    expect(page.locator("section.preview h2")).to_contain_text("What it would do today")
    page.screenshot(path=str(tmp_path / "rules-preview.png"), full_page=True)
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.locator(".flash")).to_contain_text("Version 1 saved and active")
    page.get_by_role("link", name="← Connections").click()

    card.get_by_role("button", name="Disconnect").click()
    expect(page.locator(".flash")).to_contain_text("Disconnected Larkspur Landscaping")
    expect(card.locator('[data-field="status"]')).to_have_text("disconnected")
    card.get_by_role("button", name="Purge data").click()
    expect(page.locator(".flash")).to_contain_text("Purged every record of Larkspur Landscaping")
    expect(page.locator("section.org")).to_have_count(0)
