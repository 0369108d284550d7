"""What the organization pages share: the organization and its local day, template filters
(money, local times), paging, and the form error a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from decimal import Decimal
from math import ceil
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint
from flask import request

from core.db import utcnow
from core.models import Organization
from providers import DISPLAY_NAMES
from rules.engine.timing import local_date

bp = Blueprint("pages", __name__)

PAGE_SIZE = 25


def today(org: Organization) -> date:
    return local_date(utcnow(), org.timezone)


def local(instant: datetime | None, org: Organization) -> str:
    if instant is None:
        return ""
    return instant.astimezone(ZoneInfo(org.timezone or "UTC")).strftime("%Y-%m-%d %H:%M %Z")


@bp.app_template_filter("money")
def money(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}"


@bp.app_template_filter("local")
def local_filter(instant: datetime | None, org: Organization) -> str:
    return local(instant, org)


@bp.app_template_filter("words")
def words(value: str | None) -> str:
    return (value or "").replace("_", " ")


@bp.app_template_global("provider_label")
def provider_label(org: Organization) -> str:
    return DISPLAY_NAMES.get(org.provider, org.provider)


@dataclass(frozen=True)
class Pager:
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def url(self, page: int) -> str:
        args = {k: v for k, v in request.args.items() if v and k != "page"}
        args["page"] = str(page)
        return f"{request.path}?{urlencode(args)}"


def pager(total: int, size: int = PAGE_SIZE) -> Pager:
    page = request.args.get("page", 1, type=int) or 1
    pages = max(1, ceil(total / size))
    return Pager(min(max(page, 1), pages), size, total)


def form_dates(value: str | None, field: str) -> date | None:
    """A date typed in a form (YYYY-MM-DD, as a date input sends it); FormProblem otherwise."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FormProblem({field: f"“{text[:20]}” is not a date; use YYYY-MM-DD"}) from None


class FormProblem(ValueError):
    """A form's input a person must correct; `errors` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def in_words(errors: dict[str, Any]) -> str:
    return "; ".join(f"{_field(k)}: {v}" for k, v in errors.items())


def _field(key: str) -> str:
    return key.replace("_", " ").replace(".", " ").strip() or "input"


def render(template: str, org: Organization, section: str, **context: Any) -> str:
    """An organization page: its header, its navigation (`section` is the current one)."""
    from flask import render_template

    return render_template(template, org=org, section=section, signed_in=True, **context)
