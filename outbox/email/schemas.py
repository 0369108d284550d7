"""The email settings form's input, checked field by field (marshmallow)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from core.settings import SMTP_SECURITY

_HOST = validate.Regexp(
    r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$",
    error="must be a host name such as smtp.example.com, or an IP address",
)
_ONE_LINE = validate.Regexp(r"^[^\x00-\x1f\x7f]*$", error="must be on one line")


class EmailSettingsIn(Schema):
    host = fields.String(load_default="", validate=_HOST)
    port = fields.Integer(load_default=None, validate=validate.Range(min=1, max=65535))
    security = fields.String(load_default="starttls", validate=validate.OneOf(SMTP_SECURITY))
    username = fields.String(load_default="", validate=[validate.Length(max=255), _ONE_LINE])
    password = fields.String(
        load_default="", load_only=True, validate=[validate.Length(max=500), _ONE_LINE]
    )
    from_name = fields.String(load_default="", validate=[validate.Length(max=200), _ONE_LINE])
    from_address = fields.Email(load_default="", validate=validate.Length(max=320))
    reply_to = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        error_messages={"required": "is needed: customers' replies go to this address"},
    )

    @validates_schema
    def _own_server_fields(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("host"):
            if not data.get("from_address"):
                raise ValidationError("is needed with your own mail server", "from_address")
            return
        if data.get("from_address"):
            raise ValidationError(
                "needs your own mail server: the shared server sends only as its own address "
                "(other domains would fail SPF and DMARC checks); leave it blank",
                "from_address",
            )
        if data.get("username"):
            raise ValidationError("is only used with your own mail server", "username")


class SendTestIn(Schema):
    to = fields.Email(
        required=True,
        validate=validate.Length(max=320),
        error_messages={"required": "is needed: where should the test email go?"},
    )
