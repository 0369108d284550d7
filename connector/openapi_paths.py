"""The JSON API's operations for its OpenAPI description: path, method, input, answers.

Every path is under /api/orgs/{org_id}/ (connector.rules_api; summary is connector.admin's).
Request bodies refer to the
marshmallow schemas registered by connector.openapi; answers to connector.openapi_shapes.
"""

from __future__ import annotations

from typing import Any

from connector.api_input import MAX_ROW_ID
from connector.openapi_shapes import ref

ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}
DATE = {"type": "string", "format": "date"}
DRAFT_OR_VERSION = {
    "document": {**ref("RuleSet"), "description": "a draft rule set (instead of a version)"},
    "version": {**ROW_ID, "description": "a saved version (default: the active one)"},
}

_IDS_OR_ALL = {
    "anyOf": [
        {"type": "array", "items": ROW_ID, "maxItems": 10_000},
        {"type": "string", "enum": ["all"]},
    ]
}

REQUESTS: dict[str, dict[str, Any]] = {
    "ApprovalDecision": {
        "description": 'actions to approve and/or reject: lists of ids, or "all" waiting',
        "type": "object",
        "properties": {"approve": _IDS_OR_ALL, "reject": _IDS_OR_ALL},
        "minProperties": 1,
    },
    "DocumentToCheck": {
        "description": "a rule set, wrapped as {document: ...}, bare, or as an export file",
        "anyOf": [
            {
                "type": "object",
                "properties": {"document": ref("RuleSet")},
                "required": ["document"],
            },
            ref("RuleSet"),
            ref("Export"),
        ],
    },
    "NewVersion": {
        "type": "object",
        "properties": {
            "document": ref("RuleSet"),
            "activate": {"type": "boolean", "default": False},
            "note": {"type": "string", "maxLength": 2000},
        },
        "required": ["document"],
        "description": "The version's author is the signed-in user.",
    },
    "Import": {"anyOf": [ref("Export"), ref("RuleSet")]},
    "PreviewRequest": {
        "type": "object",
        "properties": {
            **DRAFT_OR_VERSION,
            "as_of": {**DATE, "description": "the day to preview (default: today)"},
        },
    },
    "BacktestRequest": {
        "type": "object",
        "properties": {
            **DRAFT_OR_VERSION,
            "months": {"type": "integer", "minimum": 1, "maximum": 36, "default": 3},
            "end": {**DATE, "description": "the last day replayed (default: today)"},
        },
    },
}


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


NUMBER = _path_param("number", ROW_ID, "the rule set version")
CUSTOMER = _path_param(
    "customer",
    {"type": "string", "minLength": 1, "maxLength": 64},
    "the customer's id in the provider",
)


def _answer(status: str, shape: str, description: str) -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref(shape)}},
        }
    }


def op(
    summary: str,
    answer: tuple[str, str],
    *,
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    writes: bool = False,
) -> dict[str, Any]:
    """One operation: `answer` is (status, shape); errors every operation can give are added."""
    responses = {
        **_answer(answer[0], answer[1], "done"),
        "404": {"$ref": "#/components/responses/NotFound"},
        "422": {"$ref": "#/components/responses/Invalid"},
    }
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if writes:
        responses["400"] = {"$ref": "#/components/responses/BadRequest"}
        responses["413"] = {"$ref": "#/components/responses/TooLarge"}
        operation["security"] = [{"session": [], "csrf": []}]
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
    if params:
        operation["parameters"] = params
    return operation


PATHS: dict[str, dict[str, Any]] = {
    "/summary": {
        "get": op("The admin page's view: status, counts, aging, inbox, outbox", ("200", "Summary"))
    },
    "/rules/csrf": {"get": op("A CSRF token for the POST and PUT calls", ("200", "CsrfToken"))},
    "/rules": {"get": op("The rule set: active version and history", ("200", "RuleSetListing"))},
    "/rules/starter": {"get": op("A starter rule set to edit", ("200", "RuleSet"))},
    "/rules/validate": {
        "post": op("Check a rule set", ("200", "Validated"), body="DocumentToCheck", writes=True)
    },
    "/rules/versions": {
        "post": op("Save a new version", ("201", "Version"), body="NewVersion", writes=True)
    },
    "/rules/versions/{number}": {
        "get": op("One version with its document", ("200", "Version"), params=[NUMBER])
    },
    "/rules/versions/{number}/activate": {
        "post": op(
            "Make a version the active one", ("200", "Activated"), params=[NUMBER], writes=True
        )
    },
    "/rules/export": {
        "get": op(
            "The active (or a named) version as an export file",
            ("200", "Export"),
            params=[_query("version", ROW_ID, "the version (default: the active one)")],
        )
    },
    "/rules/import": {
        "post": op(
            "Save an export file (or a bare rule set) as a new version",
            ("201", "Version"),
            body="Import",
            params=[
                _query(
                    "activate", {"type": "string", "enum": ["0", "1", "true", "yes"]}, "activate it"
                )
            ],
            writes=True,
        )
    },
    "/rules/preview": {
        "post": op(
            "What the rules would do today", ("200", "Preview"), body="PreviewRequest", writes=True
        )
    },
    "/rules/backtest": {
        "post": op(
            "Replay the rules over past months",
            ("200", "Backtest"),
            body="BacktestRequest",
            writes=True,
        )
    },
    "/actions": {
        "get": op(
            "The outbox, newest first",
            ("200", "ActionList"),
            params=[
                _query(
                    "status",
                    {"type": "string", "minLength": 1, "maxLength": 20},
                    "only this status",
                ),
                _query(
                    "customer",
                    {"type": "string", "minLength": 1, "maxLength": 64},
                    "only this customer",
                ),
                _query(
                    "kind", {"type": "string", "minLength": 1, "maxLength": 20}, "only this kind"
                ),
                _query("before", ROW_ID, "only actions with a smaller id (paging)"),
                _query(
                    "limit", {"type": "integer", "minimum": 1, "maximum": 500}, "at most this many"
                ),
            ],
        )
    },
    "/actions/{action_id}": {
        "get": op(
            "One action in full",
            ("200", "Action"),
            params=[_path_param("action_id", ROW_ID, "the action")],
        )
    },
    "/evaluate": {"post": op("Evaluate the rules now", ("202", "Queued"), writes=True)},
    "/approvals": {
        "get": op("Actions waiting for approval, with their messages", ("200", "ActionList")),
        "post": op(
            "Approve and/or reject actions waiting for approval",
            ("200", "Decided"),
            body="ApprovalDecision",
            writes=True,
        ),
    },
    "/actions/{action_id}/retry": {
        "post": op(
            "Send a failed, dead or reconnect-waiting action again",
            ("200", "Action"),
            params=[_path_param("action_id", ROW_ID, "the action")],
            writes=True,
        )
    },
    "/actions/{action_id}/cancel": {
        "post": op(
            "Cancel an action that has not gone out",
            ("200", "Action"),
            params=[_path_param("action_id", ROW_ID, "the action")],
            writes=True,
        )
    },
    "/actions/{action_id}/history": {
        "get": op(
            "An action in full and every status change it went through",
            ("200", "ActionHistory"),
            params=[_path_param("action_id", ROW_ID, "the action")],
        )
    },
    "/disputes": {
        "get": op(
            "Disputes",
            ("200", "DisputeList"),
            params=[_query("open", {"type": "string"}, "1 or true: only the open ones")],
        ),
        "post": op(
            "Open a dispute on an invoice", ("201", "Dispute"), body="DisputeIn", writes=True
        ),
    },
    "/disputes/{dispute_id}/close": {
        "post": op(
            "Close a dispute",
            ("200", "Dispute"),
            body="DisputeClose",
            params=[_path_param("dispute_id", ROW_ID, "the dispute")],
            writes=True,
        )
    },
    "/promises": {
        "post": op(
            "Record a promise to pay", ("201", "PromiseCreated"), body="PromiseIn", writes=True
        )
    },
    "/promises/{promise_id}/cancel": {
        "post": op(
            "Cancel a promise",
            ("200", "Cancelled"),
            params=[_path_param("promise_id", ROW_ID, "the promise")],
            writes=True,
        )
    },
    "/payment-plans": {
        "post": op("Agree a payment plan", ("201", "PlanCreated"), body="PlanIn", writes=True)
    },
    "/payment-plans/{plan_id}/cancel": {
        "post": op(
            "Cancel a payment plan",
            ("200", "Cancelled"),
            params=[_path_param("plan_id", ROW_ID, "the plan")],
            writes=True,
        )
    },
    "/customers/{customer}/profile": {
        "get": op("A customer's state in Dunwell", ("200", "Profile"), params=[CUSTOMER]),
        "put": op(
            "Change a customer's tags, do-not-contact or credit hold",
            ("200", "Profile"),
            body="ProfileIn",
            params=[CUSTOMER],
            writes=True,
        ),
    },
}
