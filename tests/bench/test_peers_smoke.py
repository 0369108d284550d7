"""bench/peers.py's own logic, without the taps' virtualenvs: reading a Singer stream, the
ratios and the verdict against the target."""

from __future__ import annotations

import json

from bench.peers import Cost
from bench.peers import Run
from bench.peers import lifted_table
from bench.peers import record_stream
from bench.peers import verdicts


def singer_line(message: dict) -> bytes:
    """As singer-python writes a message: json.dumps with its default separators."""
    return (json.dumps(message) + "\n").encode()


def test_record_stream_reads_records_only():
    record = {"type": "RECORD", "stream": "invoices", "record": {"Id": "1", "stream": "x"}}
    assert record_stream(singer_line(record)) == "invoices"
    schema = {"type": "SCHEMA", "stream": "invoices", "schema": {}, "key_properties": ["Id"]}
    assert record_stream(singer_line(schema)) is None
    assert record_stream(singer_line({"type": "STATE", "value": {"RECORD": 1}})) is None


def test_record_stream_parses_when_stream_is_not_second():
    line = json.dumps({"type": "RECORD", "time_extracted": "2026-11-30", "stream": "payments"})
    assert record_stream(line.encode()) == "payments"


def test_ratios_and_verdicts():
    ours = Run("ours (sqlite)", "xero", 12_000, 1.0, Cost(10, 1.2, 0.5, rendered=2, cached=8))
    slow = Run("ours (postgresql)", "xero", 12_000, 3.0, Cost(10, 1.5, 0.5))
    tap = Run("tap-xero", "xero", 10_000, 10.0, Cost(100, 10.0, 2.0))

    table = lifted_table([ours, slow, tap])
    assert "| xero | ours (sqlite) | 12,000 | 1.00 | 12,000 | 12.0 | 100 | 10.0 |" in table
    assert table.splitlines()[2].endswith("| 0.5 | 10 | 2 / 8 |")
    said = verdicts([ours, slow, tap]).splitlines()
    assert said[0].startswith("xero ours (sqlite): 12.0x") and "met" in said[0]
    assert "MISSED by 2.5x" in said[1]
