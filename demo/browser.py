"""A tiny form-following client for the headless demo: it clicks what a person would click.

`sign_in` signs the demo user in through the sandbox's OpenID Connect ("Sign in with Intuit" or
"Sign in with Xero", the sandbox's consent page, back to Dunwell); `connect` connects a company
the same way.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _Forms(HTMLParser):
    """Collects every form with its action, method and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = {
                "action": a.get("action", ""),
                "method": a.get("method", "get").lower(),
                "fields": [],
                "buttons": [],
            }
            self.forms.append(self._current)
        elif self._current is not None and tag in ("input", "button"):
            kind = a.get("type", "submit" if tag == "button" else "text").lower()
            entry = (a.get("name", ""), a.get("value", ""), kind, "checked" in a)
            (self._current["buttons"] if kind == "submit" else self._current["fields"]).append(
                entry
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_data(form: dict, buttons: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Hidden and text fields, every checkbox ticked, one radio per group (the checked or first)."""
    data: list[tuple[str, str]] = []
    checked_radios = {
        name for name, _, kind, checked in form["fields"] if kind == "radio" and checked
    }
    radios: set[str] = set()
    for name, value, kind, checked in form["fields"]:
        if not name:
            continue
        if kind == "radio":
            if name in radios or (name in checked_radios and not checked):
                continue
            radios.add(name)
        data.append((name, value))
    for name, value, _, _ in form["buttons"]:
        if name and (not buttons or value.lower() in buttons):
            data.append((name, value))
            break
    return data


class FormBrowser:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def sign_in(self, provider: str = "quickbooks", person: str = "") -> str:
        """Sign in with the provider's login as sandbox person `person` (a key from the
        sandbox's GET /_sandbox/users; default its first, the demo user). Returns the email
        Dunwell shows as signed in."""
        home = self.http.get(self.base_url + "/", timeout=10)
        form = _form_posting_to(home.text, f"/sign-in/{provider}")
        consent = self.http.post(
            urljoin(home.url, form["action"]), data=form_data(form), timeout=30
        )
        consent.raise_for_status()
        approve = _approval_form(consent.text)
        data = form_data(approve, ("allow", "approve"))
        if person:
            data = [(k, v) for k, v in data if k != "user"] + [("user", person)]
        done = self.http.post(urljoin(consent.url, approve["action"]), data=data, timeout=60)
        done.raise_for_status()
        email = re.search(r'class="who">([^<]+)<', done.text)
        if not done.url.startswith(self.base_url) or email is None:
            raise SystemExit(
                f"signing in with {provider} failed at {done.url}:\n{_flash(done.text)}"
            )
        return email.group(1)

    def connect(self, provider: str) -> list[int]:
        home = self.http.get(self.base_url + "/", timeout=10)
        before = set(_org_ids(home.text))
        form = _form_posting_to(home.text, f"/connect/{provider}")
        consent = self.http.post(
            urljoin(home.url, form["action"]), data=form_data(form), timeout=30
        )
        consent.raise_for_status()
        approve = _approval_form(consent.text)
        done = self.http.post(
            urljoin(consent.url, approve["action"]),
            data=form_data(approve, ("allow", "approve")),
            timeout=60,
        )
        done.raise_for_status()
        if "/_sandbox" in done.url or not done.url.startswith(self.base_url):
            raise SystemExit(f"connecting {provider} did not come back to Dunwell: {done.url}")
        new = [i for i in _org_ids(done.text) if i not in before]
        if not new:
            raise SystemExit(f"connecting {provider} added no organization:\n{_flash(done.text)}")
        return new

    def api(self, method: str, org_id: int, path: str, body: dict | None = None) -> dict:
        """A call to the JSON API, with the CSRF token a page would send."""
        url = f"{self.base_url}/api/orgs/{org_id}/{path}"
        headers = {}
        if method != "GET":
            token = self.http.get(f"{self.base_url}/api/orgs/{org_id}/rules/csrf", timeout=10)
            headers["X-CSRFToken"] = token.json()["csrf_token"]
        response = self.http.request(method, url, json=body, headers=headers, timeout=30)
        if response.status_code >= 400:
            raise SystemExit(
                f"{method} {path} failed ({response.status_code}): {response.text[:500]}"
            )
        return response.json()

    def summary(self, org_id: int) -> dict:
        response = self.http.get(f"{self.base_url}/api/orgs/{org_id}/summary", timeout=10)
        response.raise_for_status()
        return response.json()


def _org_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-org-id="(\d+)"', html)]


def _form_posting_to(html: str, path: str) -> dict:
    for form in forms(html):
        if form["action"].endswith(path):
            return form
    raise SystemExit(f"no form posting to {path} on the page")


def _approval_form(html: str) -> dict:
    posts = [f for f in forms(html) if f["method"] == "post"]
    if not posts:
        raise SystemExit("the consent page has no form to approve")
    return posts[0]


def _flash(html: str) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', html)) or html[:500]
