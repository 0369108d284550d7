"""Third Books' configuration: THIRD_* variables, like a real provider's config module."""

from __future__ import annotations

from collections.abc import Mapping

from providers.config import ProviderSettings

ENV_PREFIX = "THIRD"


def from_env(env: Mapping[str, str], problems: list[str]) -> ProviderSettings:
    return ProviderSettings(
        client_id=env.get("THIRD_CLIENT_ID", ""),
        client_secret=env.get("THIRD_CLIENT_SECRET", ""),
        redirect_uri=env.get("THIRD_REDIRECT_URI", ""),
        webhook_key=env.get("THIRD_WEBHOOK_KEY", ""),
        authorize_url=env.get("THIRD_AUTHORIZE_URL", "https://login.third.test/authorize"),
        token_url=env.get("THIRD_TOKEN_URL", "https://login.third.test/token"),
        revoke_url=env.get("THIRD_REVOKE_URL", "https://login.third.test/revoke"),
        api_base=env.get("THIRD_API_BASE", "https://api.third.test"),
    )
