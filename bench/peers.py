"""Side by side with the Singer taps, over HTTP: records/s of our sync and of tap-quickbooks and
tap-xero reading the same sandbox company, in one run.

The sandbox runs as a process of its own (`python -m sandbox --size large`); every client reads
it over real HTTP on 127.0.0.1. It keeps each list page it renders until the data changes
(sandbox.page_cache), so:

0. warm-up (not with `--cold`): with the limits lifted, one untimed read of each company by our
   sync and by its tap, so that no timed read pays the sandbox's rendering, which a provider's
   servers would do on machines of their own; every run reports the pages rendered for it and
   the pages it was served from the cache;
1. real limits (the sandbox's defaults: QuickBooks 500 requests/min and 10 in flight,
   Xero 60/min and 5 in flight per tenant, and our own limiter's same figures): a backfill of
   each company through `sync.jobs.run_sync` into an empty SQLite mirror, reporting
   requests/min against the limit and records/s against limit x page size; then the tap,
   stopped after `--tap-real-seconds` and extrapolated by its share of the requests it makes
   in step 2 (said in the table);
2. the sandbox's limits and ours lifted: for each provider, our backfill into SQLite and
   PostgreSQL (fresh, migrated databases, the organization connected through the consent
   page as tests/connect.py does) and the tap in its own virtualenv (tests/contract/venvs.py),
   discovered beforehand, its catalog cut to the streams we read, its stdout streamed and its
   RECORD messages counted. Each figure is wall time from the start of the job (our
   `run_sync`) or of the tap's process to its end.

    DUNWELL_TEST_SLOT=6 .venv/bin/python bench/peers.py [--databases sqlite,postgresql]
        [--providers quickbooks,xero] [--tap-real-seconds 150] [--no-real-limits] [--cold]
        [--profile]

PostgreSQL is DUNWELL_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test, schema
`dunwell_peers_<slot>`); Redis is 127.0.0.1, port 6379 + DUNWELL_TEST_SLOT, database 11.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import json
import os
import pstats
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.fernet import Fernet
from redis import Redis

from bench.stackrun import database_url
from bench.stackrun import redis_url
from core.context import JobContext
from core.db import make_engine
from core.db import make_session_factory
from core.settings import Settings
from demo.stack import _free_port
from providers.base import Limit
from providers.quickbooks import api as quickbooks_api
from providers.xero import api as xero_api
from providers.xero import reads as xero_reads
from sandbox.app import SandboxConfig
from sandbox.client_env import client_env
from sync.jobs import run_sync
from tests.connect import connect_org
from tests.contract import consent
from tests.contract.venvs import python_for

# Imported by name so that mypy, which checks bench/ but not tests/, does not follow it into
# tests/contract/programs.py (typed loosely, as tests are).
programs: Any = importlib.import_module("tests.contract.programs")

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REDIS_DB = 11
WEB = "http://127.0.0.1:5000"  # only the OAuth callback URL: no web app runs
TAP_START = "2000-01-01T00:00:00Z"
TAPS = {"quickbooks": "tap-quickbooks", "xero": "tap-xero"}
# The streams that hold what our sync reads (providers/*: customers, invoices, credit, payments).
TAP_STREAMS = {
    "quickbooks": {"customers", "invoices", "payments", "credit_memos"},
    "xero": {"contacts", "invoices", "payments", "credit_notes", "overpayments", "prepayments"},
}
# The providers' published limits (what the sandbox enforces by default) and page sizes.
REAL = {
    "quickbooks": {"per_minute": 500, "in_flight": 10, "page": quickbooks_api.PAGE_SIZE},
    "xero": {"per_minute": 60, "in_flight": 5, "page": xero_reads.PAGE_SIZE},
}
LIFTED = 1_000_000
TARGET_RATIO = 10  # ours / tap, records/s (issue 12)


@dataclass
class Run:
    who: str  # "ours (sqlite)", "tap-xero", ...
    provider: str
    records: int
    seconds: float
    cost: Cost
    by_stream: dict[str, int] = field(default_factory=dict)
    cut: bool = False  # stopped at its time budget before the end

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def client_us(self) -> float:
        """The reader's own CPU per record, in microseconds (PostgreSQL's server not counted)."""
        return self.cost.client_cpu / self.records * 1e6 if self.records else 0.0


@dataclass(frozen=True)
class Cost:
    requests: int  # answered by the sandbox for this company
    client_cpu: float  # seconds of CPU of the reader's process
    sandbox_cpu: float  # seconds of CPU of the sandbox's process, serving the reader
    rendered: int = 0  # list pages the sandbox rendered for the reader (sandbox.page_cache)
    cached: int = 0  # list pages it served from its cache instead


# ---------------------------------------------------------------- the sandbox


@dataclass(frozen=True)
class Sandbox:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User and system CPU of the sandbox's process so far (Linux: /proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sandbox_process(workdir: Path, size: str) -> Iterator[Sandbox]:
    """`python -m sandbox --size <size>` on a free port; its output in workdir/sandbox.log."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(workdir / "sandbox.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--port", str(port), "--size", size],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_up(f"{url}/_sandbox/quickbooks/companies", process)
            yield Sandbox(url, process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_up(url: str, process: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the sandbox stopped (exit {process.returncode})")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=5).ok:
                return
        time.sleep(0.5)
    raise SystemExit(f"the sandbox did not answer within {timeout:.0f}s")


def set_limits(sandbox: str, lifted: bool) -> None:
    """The sandbox's limits and our limiter's: the providers' published ones, or none to speak
    of. Our Xero tenant limit is a function of the tenant id, replaced while lifted."""
    qbo = REAL["quickbooks"]
    per_minute, in_flight = (LIFTED, 100) if lifted else (qbo["per_minute"], qbo["in_flight"])
    _post(f"{sandbox}/_sandbox/quickbooks/limits", per_minute=per_minute, in_flight=in_flight)
    quickbooks_api.PER_MINUTE, quickbooks_api.IN_FLIGHT = per_minute, in_flight
    xero = REAL["xero"]
    _post(
        f"{sandbox}/_sandbox/xero/limits",
        per_minute=LIFTED if lifted else xero["per_minute"],
        concurrent=100 if lifted else xero["in_flight"],
        per_day=LIFTED if lifted else 5000,
        app_per_minute=LIFTED if lifted else 10_000,
    )
    xero_api.tenant_limit = _lifted_tenant_limit if lifted else _REAL_TENANT_LIMIT


_REAL_TENANT_LIMIT = xero_api.tenant_limit


def _lifted_tenant_limit(tenant_id: str) -> Limit:
    return Limit(key=f"xero:{tenant_id}", per_minute=LIFTED, in_flight=100)


def _post(url: str, **body: int) -> None:
    requests.post(url, json=body, timeout=10).raise_for_status()


class Meter:
    """What one reading of one company cost: the requests the sandbox answered (its request log
    for QuickBooks, its limiter's count for Xero), the reader's CPU and the sandbox's."""

    def __init__(self, sandbox: Sandbox, provider: str, company: str) -> None:
        self.sandbox, self.provider, self.company = sandbox, provider, company
        self.sandbox_cpu = 0.0
        self.pages = (0, 0)

    def start(self) -> None:
        kind = "quickbooks/requests" if self.provider == "quickbooks" else "xero/limits/usage"
        requests.delete(f"{self.sandbox.url}/_sandbox/{kind}", timeout=10).raise_for_status()
        self.pages = self._pages()
        self.sandbox_cpu = self.sandbox.cpu_seconds()

    def stop(self, client_cpu: float) -> Cost:
        sandbox_cpu = self.sandbox.cpu_seconds() - self.sandbox_cpu
        rendered, cached = (now - then for now, then in zip(self._pages(), self.pages, strict=True))
        return Cost(self._requests(), client_cpu, sandbox_cpu, rendered, cached)

    def _pages(self) -> tuple[int, int]:
        """(rendered, cached) list pages the sandbox has served so far."""
        stats = requests.get(f"{self.sandbox.url}/_sandbox/page-cache", timeout=10).json()
        return int(stats["misses"]), int(stats["hits"])

    def _requests(self) -> int:
        control = f"{self.sandbox.url}/_sandbox"
        if self.provider == "quickbooks":
            log = requests.get(
                f"{control}/quickbooks/requests",
                params={"limit": "2000", "path": self.company},
                timeout=10,
            ).json()["requests"]
            return len(log)
        usage = requests.get(f"{control}/xero/limits/usage", timeout=10).json()
        return int(usage["tenants"].get(self.company, {}).get("calls", 0))


# ---------------------------------------------------------------- our sync


class Mirror:
    """An empty, migrated Dunwell database and Redis, the sandbox's companies connected."""

    def __init__(self, sandbox: str, kind: str, workdir: Path) -> None:
        Redis.from_url(redis_url(REDIS_DB)).flushdb()
        workdir.mkdir(parents=True, exist_ok=True)
        env = {
            "SECRET_KEY": os.urandom(24).hex(),
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "DATABASE_URL": database_url(kind, workdir, name="peers"),
            "REDIS_URL": redis_url(REDIS_DB),
        }
        for provider in REAL:
            env |= client_env(provider, sandbox, WEB)
        migrated = subprocess.run(
            [str(VENV_BIN / "flask"), "--app", "connector", "migrate"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        if migrated.returncode != 0:
            raise SystemExit(f"migrating the {kind} mirror failed:\n{migrated.stderr[-3000:]}")
        self.kind = kind
        self.settings = Settings.from_env(env)
        self.engine = make_engine(self.settings.database_url)
        self.ctx = JobContext(
            settings=self.settings,
            sessions=make_session_factory(self.engine),
            redis=Redis.from_url(self.settings.redis_url),
        )
        self.orgs: dict[str, tuple[int, str]] = {}

    def connect(self, provider: str) -> str:
        """Connect the first company the consent page offers; its provider id. The consent
        pages are read with a 10-second timeout: on a loaded machine, tried up to 3 times."""
        for attempt in range(3):
            try:
                org_id = connect_org(self.settings, self.ctx.sessions, provider)
                break
            except requests.Timeout:
                if attempt == 2:
                    raise
        with self.engine.connect() as conn:
            external = conn.exec_driver_sql(
                f"SELECT external_id FROM organization WHERE id = {org_id}"
            ).scalar_one()
        self.orgs[provider] = (org_id, str(external))
        return str(external)

    def close(self) -> None:
        self.engine.dispose()


def ours(
    mirror: Mirror, provider: str, meter: Meter, profiler: cProfile.Profile | None = None
) -> Run:
    """One backfill through `run_sync`, from the job's start to its end."""
    org_id, _ = mirror.orgs[provider]
    meter.start()
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    report = run_sync(mirror.ctx, org_id)
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - started
    cost = meter.stop(time.process_time() - cpu)
    if "entities" not in report:
        raise SystemExit(f"our {provider} sync did not finish: {report}")
    by_entity = {name: int(r["records"]) for name, r in report["entities"].items()}
    return Run(f"ours ({mirror.kind})", provider, sum(by_entity.values()), seconds, cost, by_entity)


# ---------------------------------------------------------------- the taps


def tap_config(sandbox: str, provider: str, company: str, workdir: Path) -> Path:
    """A config with a refresh token granted by the sandbox's consent page for `company`."""
    config = SandboxConfig()
    if provider == "quickbooks":
        grant = _grant(
            sandbox, "qbo/connect/oauth2", "qbo/oauth2/v1/tokens/bearer",
            (config.intuit_client_id, config.intuit_client_secret),
            "com.intuit.quickbooks.accounting", {"realm_id": company},
        )  # fmt: skip
        settings = {"realm_id": company, "client_id": config.intuit_client_id,
                    "client_secret": config.intuit_client_secret}  # fmt: skip
    else:
        grant = _grant(
            sandbox, "xero/identity/connect/authorize", "xero/identity/connect/token",
            (config.xero_client_id, config.xero_client_secret), consent.XERO_SCOPES, None,
        )  # fmt: skip
        settings = {"tenant_id": company, "client_id": config.xero_client_id,
                    "client_secret": config.xero_client_secret,
                    "include_archived_contacts": "true"}  # fmt: skip
    path = workdir / f"{TAPS[provider]}.config.json"
    path.write_text(
        json.dumps(
            {
                **settings,
                "start_date": TAP_START,
                "user_agent": "dunwell-bench-peers",
                "refresh_token": grant["refresh_token"],
            }
        )
    )
    return path


def _grant(
    sandbox: str,
    authorize: str,
    token: str,
    client: tuple[str, str],
    scope: str,
    choices: dict[str, str] | None,
) -> dict[str, Any]:
    session = OAuth2Session(*client, scope=scope, redirect_uri=consent.REDIRECT_URI)
    url, _ = session.create_authorization_url(f"{sandbox}/{authorize}")
    callback = consent.approve(url, choices)
    answer = dict(session.fetch_token(f"{sandbox}/{token}", code=callback["code"]))
    session.close()
    return answer


def tap_catalog(sandbox: str, provider: str, python: Path, config: Path, workdir: Path) -> Path:
    tap = TAPS[provider]
    discovered = programs.run(sandbox, python, tap, "--config", str(config), "--discover")
    catalog = programs.select_streams(json.loads(discovered), TAP_STREAMS[provider])
    path = workdir / f"{tap}.catalog.json"
    path.write_text(json.dumps(catalog))
    return path


def tap(
    sandbox: Sandbox, provider: str, company: str, workdir: Path, budget: float | None = None
) -> Run:
    """The tap's sync to a pipe, read as it comes; RECORD messages counted by stream. With
    `budget`, the tap is killed after that many seconds (the run is then `cut`)."""
    tap_name = TAPS[provider]
    python = python_for(tap_name)
    config = tap_config(sandbox.url, provider, company, workdir)
    catalog = tap_catalog(sandbox.url, provider, python, config, workdir)
    arguments = ("--config", str(config), "--catalog", str(catalog))
    meter = Meter(sandbox, provider, company)
    meter.start()
    cpu = children_cpu()
    by_stream: dict[str, int] = {}
    with open(workdir / f"{tap_name}.stderr", "wb") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            programs.command(python, tap_name, *arguments),
            env=programs.environment(sandbox.url),
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None
        timer = threading.Timer(budget or 0, process.kill)
        if budget:
            timer.start()
        for line in process.stdout:
            stream = record_stream(line)
            if stream:
                by_stream[stream] = by_stream.get(stream, 0) + 1
        process.wait()
        seconds = time.perf_counter() - started
        timer.cancel()
    cut = bool(budget) and process.returncode == -signal.SIGKILL
    if process.returncode != 0 and not cut:
        raise SystemExit(f"{tap_name} failed (exit {process.returncode}): see {errors.name}")
    cost = meter.stop(children_cpu() - cpu)
    return Run(tap_name, provider, sum(by_stream.values()), seconds, cost, by_stream, cut)


def children_cpu() -> float:
    """CPU seconds of this process's children that have ended and been waited for."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


RECORD_START = b'{"type": "RECORD", "stream": "'


def record_stream(line: bytes) -> str | None:
    """The stream of a Singer RECORD message, None for any other message. singer-python writes
    `"type"` then `"stream"` first with json.dumps' separators: read without parsing the line;
    any other line that mentions RECORD is parsed."""
    if line.startswith(RECORD_START):
        start = len(RECORD_START)
        return line[start : line.index(b'"', start)].decode()
    if b'"RECORD"' not in line:
        return None
    message = json.loads(line)
    return str(message["stream"]) if message.get("type") == "RECORD" else None


# ---------------------------------------------------------------- the runs


def at_real_limits(
    sandbox: Sandbox, workdir: Path, providers: list[str], tap_budget: float
) -> list[Run]:
    """Our backfill of each company, then the tap's (cut after `tap_budget` seconds)."""
    set_limits(sandbox.url, lifted=False)
    mirror = Mirror(sandbox.url, "sqlite", workdir / "real")
    runs = []
    try:
        for provider in providers:
            company = mirror.connect(provider)
            runs.append(ours(mirror, provider, Meter(sandbox, provider, company)))
            print(describe(runs[-1]), flush=True)
            if tap_budget:
                runs.append(tap(sandbox, provider, company, workdir / "real", tap_budget))
                print(describe(runs[-1]), flush=True)
    finally:
        mirror.close()
    return runs


def side_by_side(
    sandbox: Sandbox,
    workdir: Path,
    providers: list[str],
    databases: list[str],
    profiler: cProfile.Profile | None,
) -> list[Run]:
    set_limits(sandbox.url, lifted=True)
    runs: list[Run] = []
    for provider in providers:
        company = ""
        for kind in databases:
            mirror = Mirror(sandbox.url, kind, workdir / f"{kind}-{provider}")
            try:
                company = mirror.connect(provider)
                meter = Meter(sandbox, provider, company)
                runs.append(ours(mirror, provider, meter, profiler))
            finally:
                mirror.close()
            print(describe(runs[-1]), flush=True)
        runs.append(tap(sandbox, provider, company, workdir))
        print(describe(runs[-1]), flush=True)
    return runs


def warm_up(sandbox: Sandbox, workdir: Path, providers: list[str]) -> None:
    """With the limits lifted, one untimed read of each company by our sync and by the tap, so
    that the timed reads find their pages in the sandbox's cache, as they would find a
    provider's servers ready: the sandbox renders a page once, not in each reader's time (each
    run reports how many pages were rendered for it and how many came from the cache)."""
    set_limits(sandbox.url, lifted=True)
    (workdir / "warm").mkdir(exist_ok=True)
    for provider in providers:
        mirror = Mirror(sandbox.url, "sqlite", workdir / f"warm-{provider}")
        try:
            company = mirror.connect(provider)
            print(describe(ours(mirror, provider, Meter(sandbox, provider, company)), "warm-up"))
        finally:
            mirror.close()
        print(describe(tap(sandbox, provider, company, workdir / "warm"), "warm-up"), flush=True)


def describe(run: Run, label: str = "") -> str:
    return (
        f"  {label + ' ' if label else ''}{run.provider} {run.who}: {run.records:,} records in "
        f"{run.seconds:.1f}s, {run.cost} {run.by_stream}"
    )


# ---------------------------------------------------------------- the tables


def lifted_table(runs: list[Run]) -> str:
    lines = [
        "| provider | reader | records | seconds | records/s | ours / tap "
        "| reader CPU µs/record | tap / ours (CPU) | sandbox CPU s | requests "
        "| pages rendered / cached |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        peer = next(r for r in runs if r.provider == run.provider and r.who == TAPS[run.provider])
        ratios = ("", "")
        if run is not peer:
            ratios = (
                f"{run.per_second / peer.per_second:.1f}",
                f"{peer.client_us / run.client_us:.1f}",
            )
        lines.append(
            f"| {run.provider} | {run.who} | {run.records:,} | {run.seconds:.2f} "
            f"| {run.per_second:,.0f} | {ratios[0]} | {run.client_us:,.0f} | {ratios[1]} "
            f"| {run.cost.sandbox_cpu:.1f} | {run.cost.requests:,} "
            f"| {run.cost.rendered:,} / {run.cost.cached:,} |"
        )
    return "\n".join(lines)


def verdicts(runs: list[Run]) -> str:
    """Each of our runs against the target ratio to its provider's tap."""
    lines = []
    for run in runs:
        peer = next(r for r in runs if r.provider == run.provider and r.who == TAPS[run.provider])
        if run is peer:
            continue
        ratio = run.per_second / peer.per_second
        verdict = "met" if ratio >= TARGET_RATIO else f"MISSED by {TARGET_RATIO / ratio:.1f}x"
        lines.append(
            f"{run.provider} {run.who}: {ratio:.1f}x {peer.who}'s records/s "
            f"(target {TARGET_RATIO}x: {verdict}); {peer.client_us / run.client_us:.1f}x less CPU"
            " per record"
        )
    return "\n".join(lines)


def real_table(runs: list[Run], lifted: list[Run]) -> str:
    """Readings at the real limits. A tap cut at its budget is extrapolated to the whole
    backfill by its share of the requests the same tap made with the limits lifted."""
    lines = [
        "| provider | reader | records | requests | quota/min | seconds | requests/min "
        "| records/s (limit x page / 60) | whole backfill | pages rendered / cached |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for run in runs:
        real = REAL[run.provider]
        per_minute = run.cost.requests / run.seconds * 60 if run.seconds else 0.0
        ceiling = real["per_minute"] * real["page"] / 60
        whole = f"{run.seconds:.0f} s"
        if run.cut:
            full = next(r for r in lifted if r.who == run.who)
            estimate = run.seconds * full.cost.requests / max(run.cost.requests, 1)
            whole = f"≈ {estimate:.0f} s (cut at {run.seconds:.0f} s, extrapolated)"
        lines.append(
            f"| {run.provider} | {run.who} | {run.records:,} | {run.cost.requests:,} "
            f"| {real['per_minute']} | {run.seconds:.1f} | {per_minute:,.0f} "
            f"| {run.per_second:,.0f} ({ceiling:,.0f}) | {whole} "
            f"| {run.cost.rendered:,} / {run.cost.cached:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--providers", default="quickbooks,xero")
    parser.add_argument("--size", default="large", choices=("small", "demo", "large"))
    parser.add_argument("--no-real-limits", action="store_true")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up read before the timed ones (the sandbox renders their pages in them)",
    )
    parser.add_argument(
        "--tap-real-seconds",
        type=float,
        default=150.0,
        help="at the real limits, stop a tap after this long and extrapolate (0: no taps)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile our syncs with the limits lifted (slows them: for where time goes only)",
    )
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    providers = args.providers.split(",")
    databases = args.databases.split(",")
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="dunwell-peers-") as folder:
        workdir = Path(folder)
        with sandbox_process(workdir, args.size) as sandbox:
            if not args.cold:
                warm_up(sandbox, workdir, providers)
            real = []
            if not args.no_real_limits:
                real = at_real_limits(sandbox, workdir, providers, args.tap_real_seconds)
            lifted = side_by_side(sandbox, workdir, providers, databases, profiler)
    print(f"load average after: {os.getloadavg()}")
    print("\nRate limits lifted (sandbox and ours):\n")
    print(lifted_table(lifted))
    print()
    print(verdicts(lifted))
    if real:
        print("\nAt the providers' real limits (our sync into SQLite):\n")
        print(real_table(real, lifted))
    if profiler:
        print("\nOur syncs with the limits lifted, by own time:\n")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
