"""GET /api/openapi.json: a valid OpenAPI 3 description of every JSON API route."""

from __future__ import annotations

import re

import schemathesis


def test_the_description_is_served_without_sign_in_and_is_valid(client, app) -> None:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    document = answer.json
    assert document["openapi"].startswith("3.")
    operations = list(schemathesis.openapi.from_dict(document).get_all_operations())
    assert all(result.ok() for result in operations)
    described = sum(len(set(ops) - {"parameters"}) for ops in document["paths"].values())
    assert len(operations) == described > 20


def test_every_route_under_api_orgs_is_described(client, app) -> None:
    described = {
        (path, method.upper())
        for path, ops in client.get("/api/openapi.json").json["paths"].items()
        for method in ops
        if method != "parameters"
    }
    routes = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/orgs/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes and routes == described
