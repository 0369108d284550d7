"""The three roles, each allowed what the ones below it are, and the words a refusal uses.

- viewer: reads everything, changes nothing;
- collector: customers, disputes, promises, payment plans, tasks, approvals, and the outbox's
  approve, retry and cancel;
- admin: rules, connections, settings, email settings and the team.
"""

from __future__ import annotations

VIEWER, COLLECTOR, ADMIN = "viewer", "collector", "admin"
ROLES = (VIEWER, COLLECTOR, ADMIN)
_RANK = {role: rank for rank, role in enumerate(ROLES)}
MAY = {
    VIEWER: "look at everything, but change nothing",
    COLLECTOR: (
        "work with customers, disputes, promises, payment plans, tasks and approvals, "
        "and approve, retry or cancel what the outbox sends"
    ),
    ADMIN: "change the rules, connections, settings, email settings and the team",
}


def allows(role: str, need: str) -> bool:
    """May someone with `role` do what needs `need`?"""
    return _RANK.get(role, -1) >= _RANK[need]


def a(role: str) -> str:
    """The role with its article: "an admin", "a viewer"."""
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"


def refusal(org_name: str, role: str, need: str, admins: list[str]) -> str:
    """Why a request was refused, and who can change it."""
    ask = f" Ask an admin ({', '.join(admins)})" if admins else " Ask an admin"
    return (
        f"You are {a(role)} of {org_name}: {a(role)} may {MAY.get(role, 'do nothing here')}. "
        f"This needs {a(need)}, who may {MAY[need]}.{ask} to change your role on the Team page."
    )
