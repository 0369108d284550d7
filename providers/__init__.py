"""The accounting systems Dunwell can connect, by name.

An explicit table, not plugin discovery: adding a provider is one folder that passes the
contract tests plus one line here.
"""

from __future__ import annotations

from importlib import import_module

from providers.base import Provider

PROVIDERS = {
    "quickbooks": ("providers.quickbooks", "QuickBooks"),
    "xero": ("providers.xero", "Xero"),
}

DISPLAY_NAMES = {"quickbooks": "QuickBooks Online", "xero": "Xero"}


def provider_class(name: str) -> type[Provider]:
    try:
        module, attr = PROVIDERS[name]
    except KeyError:
        raise LookupError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}") from None
    return getattr(import_module(module), attr)  # type: ignore[no-any-return]
