"""JSON Schemas of the JSON API's answers, for its OpenAPI description (connector.openapi).

They follow rules.serialize, rules.analysis.preview and rules.analysis.report; the schemathesis
run in the suite checks every answer against them, so a change there that is not made here fails.
Explanations and payloads are open objects: their detail is documented in the README.
"""

from __future__ import annotations

from typing import Any


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": sorted(required),
    }


TEXT = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
OPEN = {"type": "object"}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
DATE = {"type": "string", "format": "date"}
INSTANT = {"type": "string", "format": "date-time"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def listing(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


VERSION_HEAD = {
    "number": INT,
    "name": TEXT,
    "note": TEXT,
    "created_by": TEXT,
    "created_at": INSTANT,
    "activated_at": nullable(INSTANT),
}

DECISION = _obj(
    {
        "kind": TEXT,
        "rule": TEXT,
        "step": TEXT,
        "target": TEXT,
        "period": TEXT,
        "customer": TEXT,
        "scheduled_for": INSTANT,
        "payload": OPEN,
        "explanation": OPEN,
        "merge_into": nullable(TEXT),
    },
    {"subject": TEXT, "body": TEXT, "render_error": TEXT},
)

ACTION_SUMMARY = {
    "id": INT,
    "kind": TEXT,
    "rule": TEXT,
    "step": TEXT,
    "target": TEXT,
    "period": TEXT,
    "customer": TEXT,
    "status": TEXT,
    "reason": TEXT,
    "rule_version": nullable(INT),
    "decided_on": DATE,
    "scheduled_for": INSTANT,
    "performed_at": nullable(INSTANT),
    "attempts": INT,
    "key": TEXT,
}

SUMMARY = _obj(
    {
        "id": INT,
        "name": TEXT,
        "provider": TEXT,
        "provider_label": TEXT,
        "status": TEXT,
        "status_detail": TEXT,
        "timezone": TEXT,
        "currency": nullable(TEXT),
        "last_synced_at": nullable(INSTANT),
        "last_synced_label": TEXT,
        "last_sync_error": TEXT,
        "counts": {"type": "object", "additionalProperties": INT},
        "aging": listing(
            _obj(
                {
                    "currency": TEXT,
                    "buckets": {"type": "object", "additionalProperties": MONEY},
                    "counts": {"type": "object", "additionalProperties": INT},
                    "total": MONEY,
                }
            )
        ),
        "events": listing(
            _obj(
                {
                    "entity": nullable(TEXT),
                    "external_id": TEXT,
                    "operation": TEXT,
                    "received_at": INSTANT,
                    "rejected_reason": nullable(TEXT),
                }
            )
        ),
        "outbox": _obj(
            {
                "active_version": nullable(INT),
                "per_status": {"type": "object", "additionalProperties": INT},
                "newest": listing(
                    _obj({"id": INT, "kind": TEXT, "customer": TEXT, "status": TEXT})
                ),
            }
        ),
    }
)

SHAPES: dict[str, dict[str, Any]] = {
    "Summary": SUMMARY,
    "Error": _obj({"error": TEXT, "status": INT}),
    "Invalid": _obj(
        {"error": TEXT, "status": INT, "errors": {"type": "object", "additionalProperties": TEXT}}
    ),
    "CsrfToken": _obj({"csrf_token": TEXT}),
    "RuleSetListing": _obj(
        {
            "active": nullable(INT),
            "versions": listing(_obj(VERSION_HEAD)),
            "first_activated_at": nullable(INSTANT),
        },
        {"name": TEXT},
    ),
    "Validated": _obj({"valid": {"type": "boolean", "enum": [True]}, "document": ref("RuleSet")}),
    "Version": _obj({**VERSION_HEAD, "document": ref("RuleSet")}),
    "Activated": _obj({**VERSION_HEAD, "active": INT}),
    "Export": _obj(
        {
            "format": {"type": "string", "enum": ["dunwell.rules/1"]},
            "rules": ref("RuleSet"),
        },
        {"name": TEXT, "version": INT},
    ),
    "Preview": _obj(
        {
            "organization": INT,
            "as_of": DATE,
            "rule_set": TEXT,
            "version": nullable(INT),
            "mirror_synced_at": nullable(INSTANT),
            "counts": {"type": "object", "additionalProperties": INT},
            "decisions": listing(DECISION),
            "suppressed": listing(OPEN),
            "cancellations": listing(_obj({"action": INT, "reason": TEXT})),
            "approval": TEXT,
            "queued": listing(OPEN),
        }
    ),
    "Backtest": _obj(
        {
            "organization": INT,
            "rule_set": TEXT,
            "version": nullable(INT),
            "from": DATE,
            "to": DATE,
            "days": INT,
            "totals": {"type": "object", "additionalProperties": INT},
            "discounts": {"type": "object", "additionalProperties": MONEY},
            "by_month": {"type": "object", "additionalProperties": OPEN},
            "by_week": {"type": "object", "additionalProperties": OPEN},
            "by_customer": listing(OPEN),
            "suppressed": _obj({"by_pause": OPEN, "items": listing(OPEN)}),
            "notes": listing(TEXT),
        }
    ),
    "ActionList": _obj({"actions": listing(_obj(ACTION_SUMMARY))}),
    "Action": _obj(
        {
            **ACTION_SUMMARY,
            "payload": OPEN,
            "explanation": OPEN,
            "subject": nullable(TEXT),
            "body": nullable(TEXT),
            "command": nullable(OPEN),
        }
    ),
    "Decided": _obj({"approved": listing(INT), "rejected": listing(INT)}),
    "ActionHistory": _obj(
        {
            "action": ref("Action"),
            "history": listing(
                _obj({"at": INSTANT, "from": TEXT, "to": TEXT, "actor": TEXT, "reason": TEXT})
            ),
        }
    ),
    "Queued": _obj({"queued": {"type": "string", "enum": ["enqueued", "coalesced", "follow-up"]}}),
    "Dispute": _obj(
        {
            "id": INT,
            "invoice": TEXT,
            "customer": TEXT,
            "reason": TEXT,
            "note": TEXT,
            "opened_on": DATE,
            "closed_on": nullable(DATE),
            "resolution": TEXT,
        }
    ),
    "DisputeList": _obj({"disputes": listing(ref("Dispute"))}),
    "PromiseCreated": _obj({"id": INT, "until": DATE, "balance": MONEY}),
    "PlanCreated": _obj({"id": INT, "start_balance": MONEY, "instalments": INT}),
    "Cancelled": _obj({"id": INT, "cancelled_on": DATE}),
    "Profile": _obj(
        {
            "customer": TEXT,
            "tags": listing(TEXT),
            "do_not_contact": BOOL,
            "do_not_contact_reason": TEXT,
            "credit_hold": BOOL,
            "credit_hold_reason": TEXT,
            "credit_hold_source": TEXT,
        }
    ),
}
