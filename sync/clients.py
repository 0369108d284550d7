"""Open a provider client bound to one organization, with its grant and the shared limiter."""

from __future__ import annotations

from redis import Redis
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker

from core.models import Organization
from core.ratelimit import RedisLimiter
from core.settings import Settings
from core.tokens import GrantCredentials
from core.tokens import GrantDead
from core.tokens import TokenCipher
from core.tokens import authlib_refresher
from providers import provider_class
from providers.base import Provider


def credentials_for(
    grant_id: int, settings: Settings, provider: str, sessions: sessionmaker[Session], redis: Redis
) -> GrantCredentials:
    config = settings.provider(provider)
    return GrantCredentials(
        grant_id,
        sessions,
        TokenCipher(settings.token_encryption_keys),
        redis,
        authlib_refresher(config.client_id, config.client_secret, config.token_url),
    )


def open_provider(
    org: Organization, settings: Settings, sessions: sessionmaker[Session], redis: Redis
) -> Provider:
    if org.grant_id is None:
        raise GrantDead(f"{org.name or org.external_id} has no connection; connect it again")
    credentials = credentials_for(org.grant_id, settings, org.provider, sessions, redis)
    cls = provider_class(org.provider)
    return cls(  # type: ignore[call-arg]
        settings.provider(org.provider),
        org.external_id,
        credentials,
        limiter=RedisLimiter(redis),
    )
