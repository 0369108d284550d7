"""bench/sync_ingest.py's own reporting: a small run prints the CPU columns and a verdict for
every target; memory counts as flat unless it grows past the tolerance."""

from __future__ import annotations

import pytest

from bench import sync_ingest
from bench.ingest_db import ServerCpu
from bench.ingest_db import process_cpu


def test_a_small_run_prints_every_verdict(capsys):
    databases = "sqlite,postgresql"
    assert (
        sync_ingest.main(["--invoices", "2000", "--memory-invoices", "0", "--databases", databases])
        == 0
    )
    out = capsys.readouterr().out
    assert "| process CPU µs/inv | server CPU µs/inv |" in out
    assert "Target 25,000 invoices/s on one worker: " in out
    assert "Target end-to-end at least 0.3 of the raw executemany: " in out
    assert "Target memory flat" not in out  # no memory runs asked for


def point(rss: float, blocks: int) -> dict[str, float]:
    return {"rss": rss, "blocks": blocks, "page_peak": 5.0}


@pytest.mark.parametrize(
    ("last", "flat"),
    [(point(90.0, 400_000), True), (point(120.0, 400_000), False), (point(85.0, 540_000), False)],
)
def test_memory_is_flat_within_the_tolerance(last, flat):
    assert sync_ingest._flat([point(88.0, 400_000), point(89.0, 401_000), last]) is flat


def test_server_cpu_reads_the_backends_of_a_postgresql_engine(engine):
    server = ServerCpu(engine)
    server.mark()
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1").scalar()
    used = server.seconds()
    if engine.dialect.name == "sqlite":
        assert used is None
    else:
        assert used is not None and used >= 0
    assert process_cpu(0) is None  # not a process
