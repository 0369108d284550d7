"""Signing in and a team, in headless Chromium against the whole running stack: sign in with
the sandbox's Intuit sign-in, connect QuickBooks, invite a viewer by email (the sandbox's mail
server), and the viewer, joining from the emailed link, can look but not change anything."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def invitation_link(stack, to: str) -> str:
    messages = requests.get(f"{stack.sandbox_url}/_sandbox/mail", params={"to": to}, timeout=10)
    [message] = messages.json()["messages"]
    return re.search(r"https?://\S+/invitations/[\w-]+", message["text"]).group(0)


def test_sign_in_with_intuit_invite_a_viewer_who_cannot_change_anything(stack, browser, tmp_path):
    people = requests.get(f"{stack.sandbox_url}/_sandbox/users", timeout=10).json()["users"]
    admin, viewer = people[0], people[1]
    console: list[str] = []
    page = browser.new_page()
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))

    page.goto(stack.web_url + "/")
    page.get_by_role("button", name="Sign in with Intuit").click()
    expect(page).to_have_url(re.compile(re.escape(stack.sandbox_url) + "/qbo/connect/oauth2"))
    page.get_by_label(re.compile(re.escape(admin["email"]))).check()
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash")).to_contain_text(f"Signed in as {admin['email']}")
    expect(page.locator("header .who")).to_have_text(admin["email"])

    page.get_by_role("button", name="Connect to QuickBooks Online").click()
    page.get_by_role("button", name="Connect").click()
    card = page.locator("section.org").first
    expect(card.locator("h2")).to_contain_text("Larkspur Landscaping")
    expect(card.locator("h2")).to_contain_text("you are an admin")
    page.screenshot(path=str(tmp_path / "signed-in-admin.png"), full_page=True)

    card.get_by_role("link", name="Team").click()
    expect(page.locator("h1")).to_contain_text("Team of Larkspur Landscaping")
    page.get_by_label("Email address").fill(viewer["email"])
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".flash")).to_contain_text(f"Invitation sent to {viewer['email']}")
    expect(page.locator(f'tr[data-invitation="{viewer["email"]}"]')).to_be_visible()
    page.screenshot(path=str(tmp_path / "team.png"), full_page=True)

    guest = browser.new_context().new_page()
    guest.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    guest.goto(invitation_link(stack, viewer["email"]))
    expect(guest.locator("h1")).to_contain_text("Join Larkspur Landscaping")
    guest.get_by_role("button", name=f"Join as {viewer['email']}").click()
    expect(guest.locator(".flash")).to_contain_text("You joined Larkspur Landscaping as a viewer")
    seen = guest.locator("section.org").first
    expect(seen.locator("h2")).to_contain_text("you are a viewer")
    for admin_only in ("Disconnect", "Sync now"):
        expect(seen.get_by_role("button", name=admin_only)).to_have_count(0)
    expect(seen.get_by_role("link", name="Team")).to_have_count(0)
    guest.screenshot(path=str(tmp_path / "viewer-home.png"), full_page=True)

    seen.locator("a.button", has_text="Rules").click()
    guest.get_by_role("button", name="Save as a new version").click()
    expect(guest.locator(".error .message")).to_contain_text(
        "You are a viewer of Larkspur Landscaping"
    )
    expect(guest.locator(".error .message")).to_contain_text(admin["email"])
    guest.screenshot(path=str(tmp_path / "viewer-refused.png"), full_page=True)
    team_url = page.url
    guest.goto(team_url)
    expect(guest.locator(".error .message")).to_contain_text("This needs an admin")

    page.reload()
    expect(page.locator(f'tr[data-member="{viewer["email"]}"] select')).to_have_value("viewer")
    problems = ("Content Security Policy", "pageerror")
    assert [line for line in console if any(p in line for p in problems)] == []
