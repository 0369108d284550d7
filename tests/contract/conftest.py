"""One sandbox over real HTTP for the contract tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import sandbox_server


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with sandbox_server() as url:
        yield url
