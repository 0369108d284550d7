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
    org: Organization,
    settings: Settings,
    sessions: sessionmaker[Session],
    redis: Redis,
    max_wait: float | None = None,
) -> Provider:
    """The provider client of `org`. With `max_wait`, a call that would wait longer than that,
    for our share of its rate limit or for a Retry-After, raises instead (LimitWaitExceeded,
    RateLimited)."""
    if org.grant_id is None:
        raise GrantDead(f"{org.name or org.external_id} has no connection; connect it again")
    credentials = credentials_for(org.grant_id, settings, org.provider, sessions, redis)
    cls = provider_class(org.provider)
    provider = cls(  # type: ignore[call-arg]
        settings.provider(org.provider),
        org.external_id,
        credentials,
        limiter=RedisLimiter(redis) if max_wait is None else RedisLimiter(redis, max_wait=max_wait),
    )
    if max_wait is not None:
        provider.cap_waits(max_wait)
    return provider
