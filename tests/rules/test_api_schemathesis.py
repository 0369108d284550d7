"""Schemathesis against the JSON API's own OpenAPI description: no 5xx, and every answer has
the status, content type and shape the description promises; input the description forbids is
refused.

Each operation is fuzzed with positive and negative cases from schemathesis' strategies, driven
by hypothesis here (schemathesis' own pytest loader does not run on pytest 9).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import negative_data_rejection
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from connector.openapi import PREFIX
from connector.openapi_paths import PATHS
from tests.connector.conftest import sign_in
from tests.fuzzing import fuzz_settings
from tests.rules.factories import simple_rules
from tests.rules.test_api import seed


def refused(ctx, response, case):
    """Input the description forbids is refused; a body over the size limit is refused as too
    large (413, in the description) before anything reads it, which schemathesis does not
    count as a refusal of its own."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    refused,
]
OPERATIONS = [(PREFIX + path, method) for path, ops in PATHS.items() for method in ops]


@pytest.fixture
def signed_in(client, session_factory) -> int:
    """An organization with a customer, invoices and an active rule set; the client is in."""
    org_id = seed(session_factory)
    sign_in(client, org_id)
    saved = client.post(
        f"/api/orgs/{org_id}/rules/versions", json={"document": simple_rules(), "activate": True}
    )
    assert saved.status_code == 201
    return org_id


def _without_csrf(app):
    """The description as the test client meets it: this app runs without CSRF (its own tests
    cover that: tests/rules/test_api.py), so the token requirement is left out, or every call
    that leaves out the token would count as refused input wrongly accepted."""
    document = app.test_client().get("/api/openapi.json").json
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    document.pop("security", None)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    return schema


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_the_api_keeps_its_description(app, client, signed_in, path, method) -> None:
    operation = _without_csrf(app)[path][method.upper()]
    fixed = {"path_parameters": {"org_id": signed_in}}
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, **fixed),
        operation.as_strategy(GenerationMode.NEGATIVE, **fixed),
    )

    @fuzz_settings(15)
    @given(cases)
    def check(case) -> None:
        response = case.call(session=client)
        case.validate_response(response, checks=CHECKS)

    check()
