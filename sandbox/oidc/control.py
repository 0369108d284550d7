"""The control API of the sandbox's sign-in: its people and its id_token faults.

GET    /_sandbox/users                          every person who can sign in
POST   /_sandbox/users {"email", "given_name", "family_name", "email_verified": true}
POST   /_sandbox/oidc/faults {"provider", "kind", "count": 1}   (kinds: see sandbox.oidc.state)
DELETE /_sandbox/oidc/faults
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request

from sandbox.oidc.state import current

bp = Blueprint("sandbox_oidc_control", __name__, url_prefix="/_sandbox")


def _bad(message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = 400
    return response


@bp.get("/users")
def users() -> Response:
    return jsonify(users=[user.describe() for user in current().users.all()])


@bp.post("/users")
def add_user() -> Response:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        return _bad("the body must be a JSON object")
    names = {key: body.get(key, "") for key in ("email", "given_name", "family_name")}
    if not all(isinstance(value, str) for value in names.values()):
        return _bad("email, given_name and family_name must be strings")
    try:
        user = current().users.add(**names, email_verified=body.get("email_verified") is not False)
    except ValueError as exc:
        return _bad(str(exc))
    response = jsonify(user.describe())
    response.status_code = 201
    return response


@bp.post("/oidc/faults")
def arm() -> Response:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        return _bad("the body must be a JSON object")
    try:
        current().arm(str(body.get("provider")), str(body.get("kind")), body.get("count", 1))
    except ValueError as exc:
        return _bad(str(exc))
    return jsonify(current().armed())


@bp.delete("/oidc/faults")
def clear() -> Response:
    current().clear()
    return jsonify(current().armed())
