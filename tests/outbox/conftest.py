"""The outbox's tests run on the rules tests' database schema, Redis and job context."""

from tests.rules.conftest import _pg_engine  # noqa: F401
from tests.rules.conftest import app  # noqa: F401
from tests.rules.conftest import client  # noqa: F401
from tests.rules.conftest import ctx  # noqa: F401
from tests.rules.conftest import ctx_redis  # noqa: F401
from tests.rules.conftest import database_url  # noqa: F401
from tests.rules.conftest import redis  # noqa: F401
