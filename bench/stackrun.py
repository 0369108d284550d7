"""What bench/webhooks.py, bench/faults.py and bench/scaleout.py share: a running demo stack
(demo.Stack) on this checkout's Redis and a database of its own, the connected
organizations, signed webhook bodies, an open-loop HTTP load generator and percentiles.

Redis and PostgreSQL follow DUNWELL_TEST_SLOT as the test suite does (Redis on 6379 + slot,
database BENCH_REDIS_DB; PostgreSQL schema `dunwell_bench_<slot>` of DUNWELL_BENCH_PG_URL).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import make_engine  # noqa: E402
from demo.browser import FormBrowser  # noqa: E402
from demo.stack import Stack  # noqa: E402
from demo.stack import _free_port  # noqa: E402

SLOT = int(os.environ.get("DUNWELL_TEST_SLOT", "0") or 0)
BENCH_REDIS_DB = 9  # bench/scaleout.py; bench/webhooks.py takes the next one
PG_URL = os.environ.get("DUNWELL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
INTUIT_VERIFIER = "sandbox-intuit-verifier"  # demo.Stack's webhook keys
XERO_WEBHOOK_KEY = "sandbox-xero-webhook-key"


def redis_url(db: int = BENCH_REDIS_DB) -> str:
    return f"redis://127.0.0.1:{6379 + SLOT}/{db}"


def fresh_redis(db: int = BENCH_REDIS_DB) -> str:
    url = redis_url(db)
    Redis.from_url(url).flushdb()
    return url


def database_url(kind: str, workdir: Path, name: str = "bench") -> str:
    """An empty database: a SQLite file in `workdir`, or a fresh PostgreSQL schema
    `dunwell_<name>_<slot>`."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    schema = f"dunwell_{name}_{SLOT}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def start_stack(
    workdir: Path,
    database: str,
    size: str = "demo",
    redis_db: int = BENCH_REDIS_DB,
    name: str = "bench",
) -> Stack:
    """The demo stack on an empty database and Redis database `redis_db` (flushed first)."""
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        web_port=_free_port(),
        sandbox_port=_free_port(),
        database_url=database_url(database, workdir, name),
        redis_url=fresh_redis(redis_db),
        workdir=workdir / "stack",
        sandbox_size=size,
    )
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


@dataclass(frozen=True)
class Org:
    id: int
    provider: str
    external_id: str


def connect_all(stack: Stack) -> tuple[FormBrowser, list[Org]]:
    """Sign in and connect every sandbox company of both providers, as the demo does."""
    browser = FormBrowser(stack.web_url)
    browser.sign_in("quickbooks")
    for provider in ("quickbooks", "xero"):
        browser.connect(provider)
    return browser, organizations(stack.database_url)


def organizations(url: str) -> list[Org]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, provider, external_id FROM organization ORDER BY id")
        ).all()
    engine.dispose()
    return [Org(int(i), str(p), str(e)) for i, p, e in rows]


# ---------------------------------------------------------------- signed webhook bodies


def _b64_hmac(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def quickbooks_webhook(realm: str, entity_id: str) -> tuple[bytes, dict[str, str]]:
    """A CloudEvents delivery as Intuit sends it, signed with the demo's verifier token."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "intuit.bench",
        "type": "qbo.invoice.updated.v1",
        "datacontenttype": "application/json",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
    }
    body = json.dumps([event]).encode()
    headers = {
        "Content-Type": "application/cloudevents+json",
        "intuit-signature": _b64_hmac(INTUIT_VERIFIER, body),
    }
    return body, headers


def xero_webhook(tenant: str, entity_id: str) -> tuple[bytes, dict[str, str]]:
    event = {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/{entity_id}",
        "resourceId": entity_id,
        "eventDateUtc": time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime()),
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": tenant,
        "tenantType": "ORGANISATION",
    }
    body = json.dumps(
        {
            "events": [event],
            "firstEventSequence": 1,
            "lastEventSequence": 1,
            "entropy": uuid.uuid4().hex,
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "x-xero-signature": _b64_hmac(XERO_WEBHOOK_KEY, body),
    }
    return body, headers


def webhook_for(org: Org, entity_id: str) -> tuple[bytes, dict[str, str]]:
    if org.provider == "quickbooks":
        return quickbooks_webhook(org.external_id, entity_id)
    return xero_webhook(org.external_id, entity_id)


# ---------------------------------------------------------------- open-loop HTTP load


@dataclass
class Sample:
    target: str
    status: int
    seconds: float  # request written to response read
    late: float  # how far behind its schedule the request left
    error: str = ""  # why no response came (status 0)


def request_bytes(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connections:
    """Keep-alive connections to one server, opened as needed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle:
            return self.idle.pop()
        return await asyncio.open_connection("127.0.0.1", self.port)

    def give(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.append(conn)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(pool: Connections, raw: bytes) -> tuple[int, float, str]:
    """One request; a kept-alive connection the server closed meanwhile is replaced once, as
    HTTP clients do (gunicorn closes connections idle for 2 seconds)."""
    reused = bool(pool.idle)
    status, seconds, error = await _exchange_once(pool, raw)
    if status == 0 and reused:
        status, seconds, error = await _exchange_once(pool, raw, fresh=True)
    return status, seconds, error


async def _exchange_once(
    pool: Connections, raw: bytes, fresh: bool = False
) -> tuple[int, float, str]:
    if fresh:
        reader, writer = await asyncio.open_connection("127.0.0.1", pool.port)
    else:
        reader, writer = await pool.take()
    started = time.perf_counter()
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        if length:
            await reader.readexactly(length)
    except (OSError, asyncio.IncompleteReadError) as exc:
        writer.close()
        return 0, time.perf_counter() - started, type(exc).__name__
    elapsed = time.perf_counter() - started
    if close:
        writer.close()
    else:
        pool.give((reader, writer))
    return status, elapsed, ""


async def _stream(
    name: str,
    port: int,
    requests: list[bytes],
    rate: float,
    samples: list[Sample],
) -> None:
    pool = Connections(port)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks = []

    async def one(raw: bytes, due: float) -> None:
        late = loop.time() - due
        status, seconds, error = await _exchange(pool, raw)
        samples.append(Sample(name, status, seconds, late, error))

    for i, raw in enumerate(requests):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(raw, due)))
    await asyncio.gather(*tasks)
    pool.close()


def run_load(streams: dict[str, tuple[int, list[bytes]]], rate: float) -> list[Sample]:
    """Send each stream's requests at `rate` per second, all streams at once, open loop (a
    slow answer does not delay the next request). Returns one sample per request."""
    samples: list[Sample] = []

    async def everything() -> None:
        await asyncio.gather(
            *(_stream(name, port, raws, rate, samples) for name, (port, raws) in streams.items())
        )

    asyncio.run(everything())
    return samples


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
