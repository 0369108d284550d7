"""Fuzzing every JSON API body (tests.rules.api_bodies): each answer is a 2xx, or a 4xx whose
errors name their fields; never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from tests.connector.conftest import sign_in
from tests.fuzzing import fuzz_settings
from tests.hostile import dumps
from tests.rules import api_bodies as bodies
from tests.rules.factories import simple_rules
from tests.rules.test_api import seed

ROUTES = {
    "validate": ("post", "rules/validate", bodies.validate_bodies, 60),
    "versions": ("post", "rules/versions", bodies.version_bodies, 60),
    "import": ("post", "rules/import", bodies.import_bodies, 40),
    "preview": ("post", "rules/preview", bodies.preview_bodies, 40),
    "backtest": ("post", "rules/backtest", bodies.backtest_bodies, 15),
    "disputes": ("post", "disputes", bodies.dispute_bodies, 60),
    "close": ("post", "disputes/{dispute}/close", bodies.close_bodies, 40),
    "promises": ("post", "promises", bodies.promise_bodies, 60),
    "plans": ("post", "payment-plans", bodies.plan_bodies, 60),
    "profile": ("put", "customers/C1/profile", bodies.profile_bodies, 40),
}


@pytest.fixture
def ready(client, session_factory) -> dict[str, Any]:
    """A signed-in organization with an active rule set and an open dispute."""
    org_id = seed(session_factory)
    sign_in(client, org_id)
    base = f"/api/orgs/{org_id}"
    client.post(f"{base}/rules/versions", json={"document": simple_rules(), "activate": True})
    dispute = client.post(f"{base}/disputes", json={"invoice": "I2", "reason": "other"}).json
    return {"base": base, "dispute": dispute["id"]}


def answer_is_sound(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        errors = response.json["errors"]
        assert errors and all(isinstance(k, str) and v for k, v in errors.items()), errors
    elif response.status_code >= 400:
        assert response.json["error"]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_any_body_gets_a_2xx_or_a_4xx_naming_the_field(client, ready, route) -> None:
    method, path, strategy, default_examples = ROUTES[route]
    url = f"{ready['base']}/{path.format(dispute=ready['dispute'])}"

    @fuzz_settings(default_examples)
    @given(strategy())
    def check(body: Any) -> None:
        raw = dumps(body).encode()
        response = client.open(url, method=method, data=raw, content_type="application/json")
        answer_is_sound(response)

    check()
