"""GET /api/openapi.json: an OpenAPI 3 description of the JSON API, for integrators and tools.

Request bodies are converted (by apispec) from the very marshmallow schemas that validate them,
so the description cannot drift from the validation; the operations are listed in
connector.openapi_paths and the answers' shapes in connector.openapi_shapes. It needs no
sign-in: it describes the API, not an organization.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint
from flask import Response
from flask import jsonify
from marshmallow import fields
from marshmallow import validate

from connector.openapi_paths import PATHS
from connector.openapi_paths import REQUESTS
from connector.openapi_shapes import SHAPES
from connector.openapi_shapes import ref
from rules.pauses import schemas as shapes
from rules.ruleset.fields import AMOUNT_PATTERN
from rules.ruleset.fields import MAX_AMOUNT
from rules.ruleset.fields import Money
from rules.ruleset.schema import RuleSetSchema

bp = Blueprint("openapi", __name__)


PREFIX = "/api/orgs/{org_id}"
ORG_ID = {
    "name": "org_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "the organization's id (shown on the admin page)",
}

INPUTS = {
    "RuleSet": RuleSetSchema,
    "DisputeIn": shapes.DisputeIn,
    "DisputeClose": shapes.DisputeClose,
    "PromiseIn": shapes.PromiseIn,
    "PlanIn": shapes.PlanIn,
    "ProfileIn": shapes.ProfileIn,
}
ERRORS = {
    "NotFound": ("Error", "No such organization (signed in to this browser), row or version."),
    "Invalid": ("Invalid", "The input is not valid: `errors` maps each field path to its problem."),
    "BadRequest": ("Error", "The CSRF token (X-CSRFToken, from GET rules/csrf) is missing."),
    "TooLarge": ("Error", "The body is larger than the server accepts."),
}
DESCRIPTION = (
    "Dunwell's JSON API for one connected organization. Sign in by connecting the organization "
    "in a browser (the session cookie); send the CSRF token from GET rules/csrf as X-CSRFToken "
    'with every POST and PUT. Amounts are strings such as "120.50" (numbers are accepted).'
)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The description as a JSON-ready dict (built once per process)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Dunwell JSON API",
        version=version("dunwell"),
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/"}],
    )
    if plugin.converter is None:  # APISpec(plugins=[plugin]) above sets it
        raise RuntimeError("the marshmallow plugin has no converter")
    plugin.converter.add_attribute_function(_decimal)
    for name, schema in INPUTS.items():
        spec.components.schema(name, schema=schema)
    for name, shape in {**SHAPES, **REQUESTS}.items():
        spec.components.schema(name, shape)
    for name, (error_shape, description) in ERRORS.items():
        content = {"application/json": {"schema": ref(error_shape)}}
        spec.components.response(name, {"description": description, "content": content})
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": "session"}
    )
    spec.components.security_scheme(
        "csrf", {"type": "apiKey", "in": "header", "name": "X-CSRFToken"}
    )
    for path, operations in PATHS.items():
        spec.path(path=PREFIX + path, operations=operations, parameters=[ORG_ID])
    return spec.to_dict()


def _decimal(converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A decimal is a string such as "120.50" (or a number) within its range, not a float."""
    if not isinstance(field, fields.Decimal):
        return {}
    nullable = ret.get("nullable")
    for key in ("type", "format", "minimum", "maximum", "exclusiveMinimum", "nullable"):
        ret.pop(key, None)
    low, high = (0, int(MAX_AMOUNT)) if isinstance(field, Money) else _bounds(field)
    number: dict[str, Any] = {"type": "number", "minimum": low, "maximum": high}
    text = {"type": "string", "pattern": AMOUNT_PATTERN}
    choices: dict[str, Any] = {"anyOf": [text, number], "example": "120.50"}
    if nullable:
        choices["nullable"] = True
    return choices


def _bounds(field: fields.Field) -> tuple[float, float]:
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    low = max((float(r.min) for r in ranges if r.min is not None), default=0.0)
    high = min((float(r.max) for r in ranges if r.max is not None), default=float(MAX_AMOUNT))
    return low, high
