"""Helpers for the organization pages in a browser: a seeded Dunwell served in a thread, a
signed-in browser, and the quality bar each page must meet (no serious or critical axe-core
violation, nothing wider than a 390 px phone, no console error), with full-page screenshots
at 1280 and 390 px under artifacts/screenshots/."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Axe()


@dataclass
class Watch:
    """Console errors, page errors and failed loads of what a page uses (scripts, styles,
    images, htmx requests). A page itself answering 4xx is what some tests ask for: Chromium
    logs that as "Failed to load resource", which is left to the test to check."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console {message.type}: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.errors.append(f"{response.status} for {response.url}")


def serious_violations(page) -> list[str]:
    found = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def meets_the_bar(page, name: str) -> None:
    """axe-core at 1280 px and at 390 px, no sideways scrolling on the phone, screenshots."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(WIDE)
    found = serious_violations(page)
    assert found == [], f"{name}: {found}"
    page.screenshot(path=str(SHOTS / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{name} is {overflow}px wider than a 390px screen"
    found = serious_violations(page)
    assert found == [], f"{name} at 390px: {found}"
    page.screenshot(path=str(SHOTS / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(WIDE)


def once_confirm_js_ran(page) -> None:
    """Wait until the page's deferred scripts have run (they do before DOMContentLoaded), so
    a click on a data-confirm form gets the dialog. A click before that gets the confirmation
    page instead (connector/confirm.py), as a person's would."""
    page.wait_for_load_state("domcontentloaded")
