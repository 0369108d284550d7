"""A provider's configuration: its OAuth client and endpoints, read from the environment by the
provider's own `config` module under the provider's own variable names.

Each provider package has a `config.py` with `ENV_PREFIX` and `from_env(env, problems)`;
core.settings asks the registry (providers/__init__.py) for every registered provider's.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field


@dataclass(frozen=True)
class ProviderSettings:
    """OAuth client and endpoints of one provider."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = ""
    webhook_key: str = field(default="", repr=False)
    authorize_url: str = ""
    token_url: str = ""
    revoke_url: str = ""
    api_base: str = ""
    connections_url: str = ""
    discovery_url: str = ""  # OpenID Connect discovery ("Sign in with Intuit / Xero")
    environment: str = "production"  # a provider with a separate sandbox API says which here

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


def client_names(prefix: str) -> tuple[str, str, str]:
    """The variables an administrator sets to connect a provider, for messages that say so."""
    return (f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET", f"{prefix}_REDIRECT_URI")
