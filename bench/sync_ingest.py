"""Invoices per second from recorded provider pages into the mirror, beside the local limit.

For QuickBooks and Xero, on SQLite and PostgreSQL: a first backfill of N invoices through the
real client (HTTP response bytes -> JSON with Decimal -> mapping) and `sync.engine.sync_entity`
(set-based upsert and cursor advance, one transaction per 1000-invoice page); next to it, a bare
DB-API executemany of the same rows (see bench/ingest_raw.py). Then a larger backfill, in a
process of its own, reports peak memory every quarter of the way to show that pages stream.

Pages are generated from templates (bench/ingest_pages.py). For the throughput figures the raw
run renders them and the end-to-end run is served them from memory: the sync fetches the next
pages while it writes one (sync/prefetch.py), so time spent generating could not simply be taken
out afterwards. The memory runs generate pages on the fly (never holding them all) and take the
generating time out of their informational rate. No rate limiter: the figures are what Dunwell
itself can take.

    .venv/bin/python bench/sync_ingest.py [--invoices 50000] [--memory-invoices 200000]
        [--databases sqlite,postgresql] [--providers quickbooks,xero] [--repeat 1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import sqlite3
import subprocess
import sys
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from time import process_time
from typing import Any

if __package__ in (None, ""):  # run as a script (as `make bench` does): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select

from bench.ingest_db import PG_SCHEMA
from bench.ingest_db import ServerCpu
from bench.ingest_db import add_organization
from bench.ingest_db import fresh_database
from bench.ingest_db import postgres_version
from bench.ingest_pages import PAGE_SIZE
from bench.ingest_raw import check_raw
from bench.ingest_raw import raw_insert
from bench.ingest_transport import Observed
from bench.ingest_transport import WriterTime
from bench.ingest_transport import build_provider
from core.db import make_session_factory
from core.models import Invoice
from core.models import SyncCursor
from providers.base import Entity
from sync.engine import PREFETCH
from sync.engine import sync_entity

Rendered = dict[str, tuple[bytes, dict[str, str]]]  # page bodies by URL, see RecordedPages
TARGET = 25_000  # invoices/s: 3 x QuickBooks' per-company ceiling (500 requests/min x 1000 rows)
RAW_RATIO = 0.3  # end-to-end at least this share of the raw executemany of the same rows
# Memory is flat when RSS and the live blocks at the last checkpoint are within this share of
# the first's (one object kept per invoice would add 150,000 blocks, about 35%).
FLAT = 0.25
CHECKPOINTS = 4


@dataclass
class IngestResult:
    provider: str
    database: str
    invoices: int
    seconds: float  # wall time of sync_entity
    generating: float  # of which making page bodies (excluded; ~0 when served pre-rendered)
    client: float  # inside the client (HTTP machinery, JSON, mapping), generation included
    writer: float  # inside database sessions (upserts, cursor, commits); overlaps `client`
    pages: int
    calls: int  # HTTP requests the client made (pages, the empty last one, Terms)
    process_cpu: float = 0.0  # CPU of this process (client and writer threads) during the sync
    server_cpu: float | None = None  # CPU of the PostgreSQL server processes (None: not read)

    @property
    def net(self) -> float:
        return self.seconds - self.generating

    @property
    def per_second(self) -> float:
        return self.invoices / self.net

    def micros(self, seconds: float) -> float:
        return seconds / self.invoices * 1e6


def run_ingest(
    provider_name: str,
    database: str,
    invoices: int,
    profile: bool,
    rendered: Rendered,
    prefetch: int | None = None,
) -> IngestResult:
    """One backfill, pages served from `rendered` (filled by a run before this one)."""
    with fresh_database(database) as engine:
        server = ServerCpu(engine)
        org_id = add_organization(engine, provider_name, "bench")
        provider, adapter = build_provider(provider_name, invoices, rendered)
        depth = PREFETCH.get(database, 0) if prefetch is None else prefetch
        # A thread profiles apart; without one, one profiler sees client and writer together.
        writer_profile = cProfile.Profile() if profile else None
        client_profile = cProfile.Profile() if profile and depth else None
        observed = Observed(provider, profiler=client_profile)
        writer = WriterTime()
        server.mark()
        cpu_started = process_time()
        started = perf_counter()
        if writer_profile:
            writer_profile.enable()
        report, _ = sync_entity(writer.sessions(engine), org_id, observed, Entity.INVOICE, depth)
        if writer_profile:
            writer_profile.disable()
        seconds = perf_counter() - started
        process_cpu = process_time() - cpu_started
        server_cpu = server.seconds()
        check_mirror(engine, org_id, invoices, report.written)
    title = f"{provider_name} on {database}"
    if client_profile:
        print_profile(client_profile, f"{title}, client (the prefetching thread)")
    if writer_profile:
        print_profile(writer_profile, f"{title}, the sync's own thread")
    return IngestResult(
        provider_name,
        database,
        invoices,
        seconds,
        adapter.generating,
        observed.client_seconds,
        writer.seconds,
        report.pages,
        adapter.calls,
        process_cpu,
        server_cpu,
    )


def check_mirror(engine: Engine, org_id: int, invoices: int, written: int) -> None:
    """Every invoice is in the mirror and the cursor counted them all."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.organization_id == org_id)
        )
        seen = session.scalar(select(SyncCursor.records_seen).where(SyncCursor.entity == "invoice"))
    if not count == seen == written == invoices:
        raise AssertionError(f"mirror has {count}, cursor saw {seen}, wrote {written}/{invoices}")


def run_raw(provider_name: str, database: str, invoices: int, rendered: Rendered) -> float:
    """Invoices/s of the bare executemany of the same rows (rendering the pages into
    `rendered` if not there yet)."""
    with fresh_database(database) as engine:
        org_id = add_organization(engine, provider_name, "bench")
        provider, _ = build_provider(provider_name, invoices, rendered)
        sample: list[Any] = []

        def pages() -> Any:
            for page in provider.list_changed(Entity.INVOICE, None):
                sample[:] = page[-1:]
                yield page

        result, table = raw_insert(engine, org_id, pages())
        check_raw(engine, table, invoices, sample[0])
    return result.per_second


def print_profile(profiler: cProfile.Profile, title: str) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    print(f"\n--- cProfile, {title}: top functions by own time ---\n{out.getvalue()}")


# ---------------------------------------------------------------- memory


class MemoryProbe:
    """RSS at every quarter of a backfill, and the traced heap peak of the page that reaches
    it (tracemalloc runs for that one page only: tracing all of them would be 5x slower)."""

    def __init__(self, invoices: int) -> None:
        self.step = invoices // CHECKPOINTS
        self.next = self.step
        self.base_rss = current_rss_mib()
        self.points: list[dict[str, float]] = []
        if self.step <= PAGE_SIZE:
            tracemalloc.start()

    def __call__(self, done: int) -> None:
        if done >= self.next:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            self.points.append(
                {
                    "invoices": done,
                    "page_peak": peak / 2**20,
                    "rss": current_rss_mib(),
                    "max_rss": max_rss_mib(),
                    "blocks": sys.getallocatedblocks(),
                }
            )
            self.next += self.step
        if done + PAGE_SIZE >= self.next and not tracemalloc.is_tracing():
            tracemalloc.start()


def memory_child(provider_name: str, database: str, invoices: int) -> dict[str, Any]:
    """One backfill, probed at every quarter of the way."""
    with fresh_database(database, f"{PG_SCHEMA}_{provider_name}") as engine:
        org_id = add_organization(engine, provider_name, "bench")
        provider, adapter = build_provider(provider_name, invoices)
        probe = MemoryProbe(invoices)
        started = perf_counter()
        report, _ = sync_entity(
            make_session_factory(engine), org_id, Observed(provider, probe), Entity.INVOICE
        )
        seconds = perf_counter() - started - adapter.generating
        check_mirror(engine, org_id, invoices, report.written)
    return {"points": probe.points, "per_second": invoices / seconds, "base_rss": probe.base_rss}


def current_rss_mib() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return max_rss_mib()
    return pages * resource.getpagesize() / 2**20


def max_rss_mib() -> float:
    """This process's peak RSS. On Linux from /proc (VmHWM): `ru_maxrss` survives exec, so in a
    memory child it would report the parent's peak (the throughput runs' pages, ~180 MiB)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_memory(provider_name: str, database: str, invoices: int) -> dict[str, Any]:
    """memory_child in a fresh interpreter, so that RSS starts from nothing of ours."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child"]
    command += [provider_name, database, str(invoices)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_memories(
    providers: list[str], databases: list[str], invoices: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """Every memory run, two at a time (they measure memory, not speed)."""
    pairs = [(p, d) for p in providers for d in databases]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda pair: run_memory(pair[0], pair[1], invoices), pairs)
        return [(p, d, result) for (p, d), result in zip(pairs, results, strict=True)]


# ---------------------------------------------------------------- report


def print_throughput(rows: list[tuple[IngestResult, float]]) -> None:
    print(
        "\n| provider | database | invoices | end-to-end inv/s | end-to-end µs/inv "
        "| client µs/inv | DB µs/inv | generating µs/inv (excluded) | process CPU µs/inv "
        "| server CPU µs/inv | raw executemany inv/s | end-to-end ÷ raw | ≥ 25,000/s "
        f"| ≥ {RAW_RATIO} of raw |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r, raw in rows:
        client = r.micros(r.client - r.generating)
        server = "-" if r.server_cpu is None else f"{r.micros(r.server_cpu):.1f}"
        print(
            f"| {r.provider} | {r.database} | {r.invoices:,} | {r.per_second:,.0f} "
            f"| {r.micros(r.net):.1f} | {client:.1f} | {r.micros(r.writer):.1f} "
            f"| {r.micros(r.generating):.1f} | {r.micros(r.process_cpu):.1f} | {server} "
            f"| {raw:,.0f} | {r.per_second / raw:.0%} | {_yes(r.per_second >= TARGET)} "
            f"| {_yes(r.per_second >= RAW_RATIO * raw)} |"
        )
    print(
        "(client: time in the provider client; DB: time in the sync's database sessions. Where"
        " the sync prefetches (PostgreSQL) they overlap and add up to more than end-to-end."
        " Process CPU: this process, every thread; server CPU: the PostgreSQL backends serving"
        " the sync, from /proc.)"
    )


def print_memory(rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    print(
        "\n| provider | database | after | RSS now (MiB) | max RSS so far (MiB) "
        "| heap peak of that page (MiB) | live Python blocks |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for provider_name, database, result in rows:
        for p in result["points"]:
            print(
                f"| {provider_name} | {database} | {p['invoices']:,} | {p['rss']:.1f} "
                f"| {p['max_rss']:.1f} | {p['page_peak']:.1f} | {p['blocks']:,} |"
            )
    for provider_name, database, result in rows:
        print(
            f"{provider_name}/{database}: RSS before the backfill {result['base_rss']:.0f} MiB"
            f" ({result['per_second']:,.0f} invoices/s, two runs sharing the machine)"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=50_000)
    parser.add_argument("--memory-invoices", type=int, default=200_000, help="0 to skip")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--providers", default="quickbooks,xero")
    parser.add_argument("--repeat", type=int, default=1, help="best of N throughput runs")
    parser.add_argument("--profile", action="store_true", help="cProfile each backfill")
    parser.add_argument(
        "--prefetch",
        type=int,
        default=None,
        help=f"pages fetched ahead (0: no thread; default per database: {PREFETCH})",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if 0 < args.memory_invoices < PAGE_SIZE * CHECKPOINTS:
        raise SystemExit(f"--memory-invoices: 0, or at least {PAGE_SIZE * CHECKPOINTS}")
    if args.memory_child:
        provider_name, database, invoices = args.memory_child
        print(json.dumps(memory_child(provider_name, database, int(invoices))))
        return 0
    databases = _databases(args.databases.split(","))
    providers = args.providers.split(",")
    print(f"load average before: {_load()}")
    throughput = []
    for provider_name in providers:
        rendered: Rendered = {}
        for database in databases:
            throughput.append(best_of(args, provider_name, database, rendered))
    print_throughput(throughput)
    memories = (
        run_memories(providers, databases, args.memory_invoices) if args.memory_invoices else []
    )
    if memories:
        print_memory(memories)
    print(f"\nload average after: {_load()}")
    print_verdicts(throughput, memories)
    return 0


def print_verdicts(
    throughput: list[tuple[IngestResult, float]], memories: list[tuple[str, str, dict[str, Any]]]
) -> None:
    slow = [r for r, _ in throughput if r.per_second < TARGET]
    print(f"\nTarget {TARGET:,} invoices/s on one worker: {_verdict(slow)}")
    far = [r for r, raw in throughput if r.per_second < RAW_RATIO * raw]
    print(f"Target end-to-end at least {RAW_RATIO} of the raw executemany: {_verdict(far)}")
    if memories:
        growing = [f"{p}/{d}" for p, d, result in memories if not _flat(result["points"])]
        flat = "MISSED (" + ", ".join(growing) + ")" if growing else "met"
        print(f"Target memory flat (RSS, live blocks within {FLAT:.0%} of the first): {flat}")


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def _verdict(missed: list[IngestResult]) -> str:
    if not missed:
        return "met"
    return "MISSED (" + ", ".join(f"{r.provider}/{r.database}" for r in missed) + ")"


def _flat(points: list[dict[str, Any]]) -> bool:
    first, last = points[0], points[-1]
    return all(last[k] <= first[k] * (1 + FLAT) for k in ("rss", "blocks"))


def best_of(
    args: argparse.Namespace, provider_name: str, database: str, rendered: Rendered
) -> tuple[IngestResult, float]:
    """The fastest of `--repeat` runs, end-to-end and raw (the machine may be shared). The raw
    run goes first: it renders the pages the end-to-end run is then served."""
    runs, raw = [], 0.0
    for _ in range(max(1, args.repeat)):
        raw = max(raw, run_raw(provider_name, database, args.invoices, rendered))
        runs.append(
            run_ingest(
                provider_name, database, args.invoices, args.profile, rendered, args.prefetch
            )
        )
        print(f"{provider_name}/{database}: {json.dumps(asdict(runs[-1]))}", flush=True)
    return max(runs, key=lambda r: r.per_second), raw


def _load() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def _databases(wanted: list[str]) -> list[str]:
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs,"
        f" SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__},"
        f" psycopg {psycopg.__version__}"
    )
    if "postgresql" in wanted:
        try:
            print(f"PostgreSQL {postgres_version()}")
        except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
            print(f"!!! PostgreSQL not reachable, skipped: {str(exc).splitlines()[0]}")
            wanted = [d for d in wanted if d != "postgresql"]
    return wanted


if __name__ == "__main__":
    sys.exit(main())
