"""The link in every reminder that lets its recipient ask to stop.

A token signed with SECRET_KEY (its own salt, so no other signed value of Dunwell can pass for
one) names the organization and the customer. It does not expire: a reminder read months later
must still be able to stop the next one. connector/unsubscribe.py serves the link.
"""

from __future__ import annotations

from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer

SALT = "dunwell.unsubscribe.v1"
PATH = "/unsubscribe/"


class InvalidToken(ValueError):
    """The link was altered, cut short, or made with another key."""


def make_token(secret_key: str, org_id: int, customer_external_id: str) -> str:
    return str(_serializer(secret_key).dumps([org_id, customer_external_id]))


def read_token(secret_key: str, token: str) -> tuple[int, str]:
    """(organization id, customer external id); raises InvalidToken."""
    try:
        value = _serializer(secret_key).loads(token)
    except BadSignature:
        raise InvalidToken("this link is not valid") from None
    match value:
        case [int() as org_id, str() as customer] if customer:
            return org_id, customer
    raise InvalidToken("this link is not valid")


def unsubscribe_url(public_url: str, secret_key: str, org_id: int, customer: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{make_token(secret_key, org_id, customer)}"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)
