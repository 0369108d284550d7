"""HTML to PDF with WeasyPrint, reading nothing but the HTML it is given."""

from __future__ import annotations

from typing import Any


def _no_fetch(url: str, *_: Any, **__: Any) -> dict[str, Any]:
    raise ValueError(f"the written policy loads no external resource ({url[:60]})")


def pdf_from_html(html: str) -> bytes:
    from weasyprint import HTML  # imported on use: it loads Pango, which the workers never need

    return HTML(string=html, url_fetcher=_no_fetch).write_pdf()
