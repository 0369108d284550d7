"""Who is using this browser, for "my tasks" and for recording who did what.

Until people sign in with accounts, a person says who they are once (their email, kept in the
browser's server-side session); with accounts, `me()` becomes the signed-in user's email and the
rest of the pages stay as they are. Stored names go through core.team.
"""

from __future__ import annotations

from flask import session

from core import team

SESSION_KEY = "team_member"
SOMEONE = "someone using Dunwell"


def me() -> str | None:
    """The member this browser said it is, else the signed-in user's email."""
    value = session.get(SESSION_KEY)
    if value:
        return str(value)
    from connector import web

    user = web.current_user()
    return user.email if user is not None else None


def remember(text: str | None) -> str:
    """Remember the member this browser belongs to; raises core.team.NotAMember."""
    member = team.member_from_form(text)
    if member:
        session[SESSION_KEY] = member
    else:
        session.pop(SESSION_KEY, None)
    return member


def actor() -> str:
    """How a change made from this browser is signed in histories: the signed-in user."""
    from connector import web

    user = web.current_user()
    return user.email if user is not None else (me() or SOMEONE)
