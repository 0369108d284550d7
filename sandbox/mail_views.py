"""The mail server's mailbox over HTTP: JSON for tests and scripts, a page for people.

GET /_sandbox/mail (?to= one recipient) lists every message received; DELETE empties it.
/_sandbox/mail/refusals sets (POST {"recipient", "code", "message"}), lists and clears the
recipients the server refuses. GET /_sandbox/mailbox is the page: who received what, and each
message with its headers, its text and its HTML (shown in a sandboxed frame, scripts off).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from sandbox.mail import Mailbox

bp = Blueprint(
    "sandbox_mail",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/_sandbox/static",
)


def mailbox() -> Mailbox:
    return current_app.extensions["sandbox_mailbox"]


@bp.get("/_sandbox/mail")
def messages() -> Response:
    return jsonify(messages=mailbox().messages(request.args.get("to", "")))


@bp.delete("/_sandbox/mail")
def clear() -> Response:
    mailbox().clear()
    return jsonify(messages=[])


@bp.get("/_sandbox/mail/refusals")
def refusals() -> Response:
    return _refusals()


@bp.post("/_sandbox/mail/refusals")
def refuse() -> Response | tuple[Response, int]:
    spec = request.get_json(force=True, silent=True) or {}
    try:
        mailbox().refuse(str(spec["recipient"]), int(spec["code"]), str(spec.get("message", "")))
    except (KeyError, TypeError, ValueError) as exc:
        return jsonify(error=f"need recipient and a 4xx/5xx code: {exc}"), 400
    return _refusals()


@bp.delete("/_sandbox/mail/refusals")
def clear_refusals() -> Response:
    mailbox().clear_refusals()
    return _refusals()


@bp.get("/_sandbox/mail/<int:number>.html")
def message_html(number: int) -> Response:
    """The HTML part alone, for the page's frame; the browser runs nothing in it."""
    message = mailbox().message(number) or abort(404)
    response = Response(message["html"], mimetype="text/html")
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src data:"
    return response


@bp.get("/_sandbox/mailbox")
def page() -> str:
    box = mailbox()
    recipient = request.args.get("to", "").strip().lower()
    selected = box.message(request.args.get("id", 0, type=int))
    return render_template(
        "sandbox_mailbox.html",
        by_recipient=box.by_recipient(),
        recipient=recipient,
        shown=box.messages(recipient) if recipient else [],
        selected=selected,
    )


def _refusals() -> Response:
    rows = mailbox().refusals().items()
    return jsonify(refusals=[{"recipient": r, "code": c, "message": m} for r, (c, m) in rows])
