"""The team page's forms, validated with marshmallow (errors name the field)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate

from team.roles import ROLES

_ROLE = validate.OneOf(ROLES, error="must be one of: " + ", ".join(ROLES))


class InviteIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    role = fields.String(required=True, validate=_ROLE)

    @post_load
    def lower(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "email": data["email"].strip().lower()}


class RoleIn(Schema):
    role = fields.String(required=True, validate=_ROLE)


class EmailIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=320))

    @post_load
    def lower(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"email": data["email"].strip().lower()}
