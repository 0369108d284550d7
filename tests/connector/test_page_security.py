"""Stored XSS through an organization's name, and the headers every page carries (issue 8,
item 5). The browser half (the confirmation still works, no CSP violation) is in
tests/e2e/test_admin_page.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.db import session_scope
from core.models import Organization
from tests.connector.conftest import make_org
from tests.connector.conftest import sign_in

NASTY = "Joe's Plumbing\"><script>alert(1)</script>"
TEMPLATES = Path(__file__).resolve().parents[2] / "connector" / "templates"


@pytest.mark.parametrize("status", ["connected", "disconnected"])
def test_an_organization_name_renders_as_text_everywhere(client, session_factory, status):
    org_id = make_org(session_factory, "quickbooks", "realm-1", status=status)
    with_name(session_factory, org_id, NASTY)
    sign_in(client, org_id)
    for path in ("/", f"/orgs/{org_id}/rules"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "Joe&#39;s Plumbing&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    home = client.get("/").get_data(as_text=True)
    question = "Disconnect" if status == "connected" else "Delete every record"
    assert re.search(rf'data-confirm="{question}[^"]*Joe&#39;s Plumbing&#34;&gt;', home)


def with_name(session_factory, org_id: int, name: str) -> None:
    with session_scope(session_factory) as db:
        db.get(Organization, org_id).name = name


def test_no_template_has_inline_script_handlers_or_styles():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|\sstyle\s*=|javascript:", re.I)
    found = {
        path.name: inline.findall(path.read_text()) for path in sorted(TEMPLATES.glob("*.html"))
    }
    assert found and not any(found.values()), found


@pytest.mark.parametrize("path", ["/", "/no-such-page", "/static/admin.css"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    response.close()
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "form-action 'self' https://" in policy  # and the providers' consent pages
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
