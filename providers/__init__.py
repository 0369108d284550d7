"""The accounting systems Dunwell can connect, by name.

An explicit table, not plugin discovery: a provider is one folder (its client, its webhook
parser and its `config` module) that passes the contract tests, plus one line here. Everything
else (the connect page, the OAuth routes, the webhook route, the sync, the settings) reads this
table, so nothing outside the folder names a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType

from providers.base import Provider
from providers.config import ProviderSettings
from providers.config import client_names


@dataclass(frozen=True)
class Registration:
    name: str  # in URLs and in the database: /connect/<name>, Organization.provider
    package: str  # the provider's folder, as a module path
    class_name: str  # its Provider class, in the package
    display_name: str  # what people read


_REGISTRY: dict[str, Registration] = {}


def register(name: str, package: str, class_name: str, display_name: str) -> None:
    _REGISTRY[name] = Registration(name, package, class_name, display_name)
    PROVIDERS[name] = (package, class_name)
    DISPLAY_NAMES[name] = display_name


def unregister(name: str) -> None:
    """For tests that register a provider of their own."""
    _REGISTRY.pop(name, None)
    PROVIDERS.pop(name, None)
    DISPLAY_NAMES.pop(name, None)


PROVIDERS: dict[str, tuple[str, str]] = {}
DISPLAY_NAMES: dict[str, str] = {}

register("quickbooks", "providers.quickbooks", "QuickBooks", "QuickBooks Online")
register("xero", "providers.xero", "Xero", "Xero")


def provider_class(name: str) -> type[Provider]:
    module = import_module(_registration(name).package)
    cls: type[Provider] = getattr(module, _registration(name).class_name)
    return cls


def config_module(name: str) -> ModuleType:
    """The provider's `config` module: ENV_PREFIX and from_env(env, problems)."""
    return import_module(f"{_registration(name).package}.config")


def settings_from_env(env: Mapping[str, str], problems: list[str]) -> dict[str, ProviderSettings]:
    """Every registered provider's settings, each read by the provider's own config module;
    what is wrong is added to `problems`."""
    return {name: config_module(name).from_env(env, problems) for name in _REGISTRY}


def setup_variables(name: str) -> tuple[str, str, str]:
    """The variables to set so that this server can connect the provider."""
    return client_names(config_module(name).ENV_PREFIX)


def _registration(name: str) -> Registration:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown provider {name!r}; known: {', '.join(_REGISTRY)}") from None
