"""A whole running Dunwell for end-to-end tests: sandbox, web, worker and cron processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.stack import Stack
from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def stack(empty_database_url, redis_url, tmp_path) -> Iterator[Stack]:
    running = Stack(
        web_port=free_port(),
        sandbox_port=free_port(),
        database_url=empty_database_url,
        redis_url=redis_url,
        workdir=tmp_path / "stack",
        sandbox_size="small",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("DUNWELL_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing; install it with: apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium): browser test SKIPPED")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
