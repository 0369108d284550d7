"""The "are you sure?" of a destructive form, with or without scripts.

A form that deletes or sends for good says so with `data-confirm="question"` and carries the
hidden field `confirm_field()` (connector/templates/_macros.html), rendered empty.
connector/static/confirm.js asks the question and, only when the person accepts, sets the field
just before the form is sent. The route acts only when the field says so (`confirmed()`);
otherwise (scripts off, or a click before confirm.js ran) it answers with `ask(...)`: a page
with the question in words, a "Yes" button that posts the same form again confirmed, and a way
back. Nothing happens until one of the two has said yes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import render_template
from flask import request

FIELD = "confirmed"
YES = "yes"


def confirmed() -> bool:
    """Did the person say yes to this form's question (in the dialog or on the page)?"""
    return request.form.get(FIELD) == YES


def ask(question: str, yes: str, back: str) -> tuple[str, int]:
    """The confirmation page for this POST: `question`, a `yes` button that posts the same
    fields again with the confirmation, and a "No, go back" link to the page the form was on
    (or `back` when the browser did not say)."""
    fields = [
        (name, value)
        for name, value in request.form.items(multi=True)
        if name not in (FIELD, "csrf_token")
    ]
    page = render_template(
        "confirm.html",
        question=question,
        yes=yes,
        action=request.full_path.rstrip("?"),
        fields=fields,
        field=FIELD,
        value=YES,
        back=_came_from() or back,
    )
    return page, 200


def _came_from() -> str | None:
    """The page the form was on, if it is one of ours (Referrer-Policy is same-origin)."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or referrer.path == request.path:
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")
