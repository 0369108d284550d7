"""Security headers on every response.

The Content-Security-Policy allows scripts, styles and images from Dunwell itself only: no
inline script, inline event handler or inline style runs, so a name that reaches a page from a
provider (an organization's, a customer's) can never become code. Forms may post to Dunwell and
be redirected to the providers' consent pages (the Connect buttons), and nowhere else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from werkzeug.wrappers import Response

from core.settings import Settings
from providers import PROVIDERS


def init_app(app: Flask, settings: Settings) -> None:
    policy = content_security_policy(settings)
    secure = settings.public_url.startswith("https://")

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")
        if secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def content_security_policy(settings: Settings) -> str:
    consent_pages = sorted(
        {source for name in PROVIDERS for source in _consent_sources(settings, name)}
    )
    return "; ".join(
        [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            " ".join(["form-action 'self'", *consent_pages]),
        ]
    )


def _consent_sources(settings: Settings, provider: str) -> list[str]:
    """The consent page's origin, and its whole domain: a browser checks form-action on every
    redirect after the form, and a provider's sign-in may move between its own hosts (for
    QuickBooks, appcenter.intuit.com to accounts.intuit.com)."""
    parts = urlsplit(settings.provider(provider).authorize_url)
    if not (parts.scheme and parts.netloc and parts.hostname):
        return []
    sources = [f"{parts.scheme}://{parts.netloc}"]
    labels = parts.hostname.split(".")
    if len(labels) > 2 and not parts.hostname.replace(".", "").isdigit():
        sources.append(f"{parts.scheme}://*.{'.'.join(labels[-2:])}")
    return sources
