"""The dashboard page and its charts on the organization of tests/insights/seed.py."""

from __future__ import annotations

from core.db import session_scope
from tests.connector.conftest import sign_in
from tests.insights.seed import seed


def seeded(client) -> int:
    with session_scope(client.application.extensions["dunwell"]["sessions"]) as db:
        org_id = seed(db).id
    sign_in(client, org_id)
    return org_id


def test_dashboard_shows_every_figure(client):
    org_id = seeded(client)
    page = client.get(f"/orgs/{org_id}/")
    assert page.status_code == 200, page.text
    html = page.text
    for text in ("Aging", "DSO (countback)", "CEI, last 30 days", "Overdue by reason",
                 "Top overdue customers", "Needs attention", "Birch GmbH"):  # fmt: skip
        assert text in html
    for name in ("aging", "trend", "reasons"):
        chart = client.get(f"/orgs/{org_id}/charts/{name}.svg")
        assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
        assert b"<svg" in chart.data and b"<script" not in chart.data
        assert (
            chart.headers["Content-Security-Policy"]
            == "default-src 'none'; style-src 'unsafe-inline'"
        )
    assert client.get(f"/orgs/{org_id}/charts/nope.svg").status_code == 404


def test_another_organizations_dashboard_is_not_found(client):
    org_id = seeded(client)
    other = client.application.test_client()
    assert other.get(f"/orgs/{org_id}/").status_code == 404


def test_pygal_leaves_the_import_system_as_it_was():
    import sys

    import connector.charts  # noqa: F401

    assert not [f for f in sys.meta_path if type(f).__name__ == "PluginImportFixer"]
