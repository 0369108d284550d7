"""`make demo`: the whole loop on this machine, against the local sandbox.

Starts the sandbox (QuickBooks Online and Xero stand-ins, and a mail server that keeps every
email it receives), the web app, an RQ worker and the RQ cron scheduler, and prints the admin
page's and the mailbox's URLs. The web app and the worker send email through that mail server
(SMTP_URL). With `--headless` it then drives the loop itself, as a browser would: connects the
sandbox companies through their consent pages, waits for the backfill, makes a payment in each
sandbox, waits for the webhook to bring it into the mirror, prints a summary and stops (exit
status 0 only if every step worked).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import requests
from cryptography.fernet import Fernet
from redis import Redis
from redis.exceptions import RedisError

from connector.demo_browser import FormBrowser
from core.worker import WORKER_ARGS

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Stack:
    web_port: int
    sandbox_port: int
    database_url: str
    redis_url: str
    workdir: Path
    sandbox_size: str = "demo"
    smtp_port: int = 0  # the sandbox's mail server; 0: any free port
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[BinaryIO] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def mailbox_url(self) -> str:
        return f"{self.sandbox_url}/_sandbox/mailbox"

    def __post_init__(self) -> None:
        self.smtp_port = self.smtp_port or _free_port()

    def env(self) -> dict[str, str]:
        sandbox = self.sandbox_url
        env = dict(os.environ)
        env.update(
            {
                "SECRET_KEY": _persistent_secret(self.workdir / "secret_key", os.urandom(24).hex()),
                "TOKEN_ENCRYPTION_KEY": _persistent_secret(
                    self.workdir / "token_key", Fernet.generate_key().decode()
                ),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "PUBLIC_URL": self.web_url,
                "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}?security=none",
                "MAIL_FROM": "reminders@mail.dunwell.test",
                "INTUIT_CLIENT_ID": "sandbox-intuit-client",
                "INTUIT_CLIENT_SECRET": "sandbox-intuit-secret",
                "INTUIT_REDIRECT_URI": f"{self.web_url}/oauth/quickbooks/callback",
                "INTUIT_WEBHOOK_VERIFIER_TOKEN": "sandbox-intuit-verifier",
                "INTUIT_ENVIRONMENT": "sandbox",
                "INTUIT_AUTHORIZE_URL": f"{sandbox}/qbo/connect/oauth2",
                "INTUIT_TOKEN_URL": f"{sandbox}/qbo/oauth2/v1/tokens/bearer",
                "INTUIT_REVOKE_URL": f"{sandbox}/qbo/v2/oauth2/tokens/revoke",
                "INTUIT_API_BASE": f"{sandbox}/qbo",
                "XERO_CLIENT_ID": "sandbox-xero-client",
                "XERO_CLIENT_SECRET": "sandbox-xero-secret",
                "XERO_REDIRECT_URI": f"{self.web_url}/oauth/xero/callback",
                "XERO_WEBHOOK_KEY": "sandbox-xero-webhook-key",
                "XERO_AUTHORIZE_URL": f"{sandbox}/xero/identity/connect/authorize",
                "XERO_TOKEN_URL": f"{sandbox}/xero/identity/connect/token",
                "XERO_REVOKE_URL": f"{sandbox}/xero/identity/connect/revocation",
                "XERO_CONNECTIONS_URL": f"{sandbox}/xero/connections",
                "XERO_API_BASE": f"{sandbox}/xero/api.xro/2.0",
                "INTUIT_DISCOVERY_URL": f"{sandbox}/qbo/.well-known/openid_sandbox_configuration/",
                "XERO_DISCOVERY_URL": f"{sandbox}/xero/identity/.well-known/openid-configuration",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def commands(self) -> dict[str, list[str]]:
        """The processes of the stack, by name, in the order they start."""
        redis_url = self.redis_url
        return {
            "sandbox": [
                sys.executable, "-m", "sandbox", "--port", str(self.sandbox_port),
                "--webhook-base", self.web_url, "--size", self.sandbox_size,
                "--smtp-port", str(self.smtp_port),
            ],
            "web": [
                str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4",
                "--graceful-timeout", "5", "--control-socket", str(self.workdir / "gunicorn.ctl"),
                "--bind", f"127.0.0.1:{self.web_port}", "connector:create_app()",
            ],
            "worker": worker_command(redis_url),
            "cron": [str(VENV_BIN / "rq"), "cron", "--url", redis_url, "connector/cron.py"],
        }  # fmt: skip

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        _run([str(VENV_BIN / "flask"), "--app", "connector", "migrate"], env)
        for name, command in self.commands().items():
            self.launch(name, command, env)
        _wait_http(f"{self.sandbox_url}/_sandbox/quickbooks/companies", "the sandbox", self)
        _wait_http(f"{self.web_url}/", "the web app", self)

    def launch(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Start one process, in a process group of its own (so `kill` reaches what it forks,
        an RQ worker's work-horse), its output in <workdir>/<name>.log."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed by stop()
        self.logs.append(log)
        self.processes[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env or self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started, as a crash of the machine or the OOM
        killer would (an RQ work-horse puts itself in a process group of its own, so the
        group alone is not enough); the process is forgotten (start another with `launch`)."""
        process = self.processes.pop(name)
        for pid in [*_descendants(process.pid), process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(
                    f"{name} stopped (exit {process.returncode}); see {self.workdir / name}.log"
                )

    def stop(self) -> None:
        """Stop in reverse order of start: the worker finishes its job while the sandbox is up."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()


def worker_command(
    redis_url: str, queues: tuple[str, ...] = ("sync", "rules", "actions")
) -> list[str]:
    """An RQ worker as the Procfile runs it (core.worker's flags), with its scheduler."""
    return [
        str(VENV_BIN / "rq"), "worker", *WORKER_ARGS, "--url", redis_url,
        "--with-scheduler", *queues,
    ]  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, children first found (Linux: read from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _persistent_secret(path: Path, fresh: str) -> str:
    """Keys survive demo restarts, so stored tokens stay readable."""
    if not path.exists():
        path.write_text(fresh)
        path.chmod(0o600)
    return path.read_text().strip()


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _wait_http(url: str, what: str, stack: Stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer at {url} within {timeout:.0f}s")


def check_redis(url: str) -> None:
    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except RedisError as exc:
        raise SystemExit(
            f"Redis is not reachable at {url} ({exc}).\n"
            "Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 "
            '--save "" --appendonly no'
        ) from None


# ---------------------------------------------------------------- the headless walk-through


def run_headless(stack: Stack, timeout: float = 120) -> dict[str, object]:
    browser = FormBrowser(stack.web_url)
    browser.sign_in("quickbooks")  # the demo user, through the sandbox's OpenID Connect
    summary: dict[str, dict[str, object]] = {}
    for provider in ("quickbooks", "xero"):
        org_ids = browser.connect(provider)
        for org_id in org_ids:
            first = wait_for(browser, org_id, lambda s: bool(s["last_synced_at"]), timeout, stack)
            summary[f"{provider}:{org_id}"] = {
                "name": first["name"],
                "backfill": first["counts"],
                "mirror_open": open_balances(first),
                "sandbox_open": sandbox_open_balances(stack, provider, first["name"]),
            }
        org_id = org_ids[0]
        before = browser.summary(org_id)
        payment = make_sandbox_payment(stack, provider, before)
        after = wait_for(
            browser,
            org_id,
            lambda s, b=before: (
                s["counts"]["webhook_events"] > b["counts"]["webhook_events"]
                and open_balances(s) != open_balances(b)
            ),
            timeout,
            stack,
        )
        summary[f"{provider}:{org_id}"].update(
            {
                "payment": payment,
                "mirror_open_after_payment": open_balances(after),
                "sandbox_open_after_payment": sandbox_open_balances(stack, provider, after["name"]),
                "webhook_events": after["counts"]["webhook_events"],
            }
        )
        for org_id in org_ids:
            entry = summary[f"{provider}:{org_id}"]
            tenant = sandbox_tenant(stack, provider, str(entry["name"]))
            entry["rules"] = switch_on_starter_rules(
                browser, stack, org_id, tenant, provider, timeout
            )
    return summary


def demo_rules(starter: dict) -> dict:
    """The starter policy, as the demo runs it: sending at any hour and on any day (so a
    walk-through on a Sunday evening still shows mail), and a credit hold for customers more
    than 60 days late, so holds reach the ledger too."""
    document = json.loads(json.dumps(starter))
    document["limits"]["quiet_hours"] = None
    document["limits"]["business_days"] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    document["credit_hold"] = {
        "place_when_any": [{"fact": "oldest_overdue_days", "op": "gt", "value": 60}],
        "reason": "More than 60 days overdue",
    }
    return document


def switch_on_starter_rules(
    browser: FormBrowser, stack: Stack, org_id: int, tenant: str, provider: str, timeout: float
) -> dict[str, object]:
    """Activate the demo policy, run it now, approve its first run (it waits for approval, as a
    new rule set always does), wait for delivery, and check what the outbox says it sent
    against what the sandbox's mailbox and ledger received."""
    starter = browser.api("GET", org_id, "rules/starter")
    document = demo_rules(starter)
    body = {"document": document, "activate": True, "note": "the demo's policy"}
    version = browser.api("POST", org_id, "rules/versions", body)
    browser.api("POST", org_id, "evaluate")
    approved = approve_a_sample(browser, stack, org_id, timeout)

    def delivered() -> list[dict] | None:
        soon = datetime.now(UTC) + timedelta(minutes=1)
        for status in ("planned", "pending"):
            for action in _actions(browser, org_id, status):
                if datetime.fromisoformat(action["scheduled_for"]) <= soon:
                    return None
        return [a for status in DONE for a in _actions(browser, org_id, status)]

    actions = _wait_until(stack, timeout, delivered)
    actions += _actions(browser, org_id, "awaiting_approval")
    by_status: dict[str, dict[str, int]] = {}
    for action in actions:
        kinds = by_status.setdefault(action["status"], {})
        kinds[action["kind"]] = kinds.get(action["kind"], 0) + 1
    sent = [a for a in actions if a["status"] == "sent"]
    mailbox = _sandbox_mail(stack)
    writes = _sandbox_writes(stack, provider, tenant)
    emails = [a for a in sent if a["kind"] == "reminder"]
    ledger = [a for a in sent if a["kind"] != "reminder"]
    received = {a["key"] for a in emails} & mailbox
    written = {a["key"] for a in ledger if any(k.startswith(a["key"]) for k in writes)}
    return {
        "version": version["number"],
        "approved": approved,
        "outbox": by_status,
        "emails_sent": len(emails),
        "emails_in_mailbox": len(received),
        "ledger_writes_sent": len(ledger),
        "ledger_writes_in_sandbox": len(written),
        "matches": len(received) == len(emails) and len(written) == len(ledger),
    }


SAMPLE = {"reminder": 6, "note": 4, "credit_hold": 3}
DONE = ("sent", "failed", "dead", "skipped", "cancelled", "needs_reconnect")


def _actions(browser: FormBrowser, org_id: int, status: str) -> list[dict]:
    """Every action of one status, page by page (the API gives 500 at a time)."""
    found: list[dict] = []
    before = ""
    while True:
        page = browser.api("GET", org_id, f"actions?status={status}&limit=500{before}")["actions"]
        found += page
        if len(page) < 500:
            return found
        before = f"&before={page[-1]['id']}"


def approve_a_sample(browser: FormBrowser, stack: Stack, org_id: int, timeout: float) -> dict:
    """Approve a few actions of each kind from the first run, as an admin trying it out would;
    the rest stays waiting on the outbox page. Waits for the run to finish first (its actions
    stop growing in number)."""

    def settled() -> list[dict] | None:
        before = browser.api("GET", org_id, "approvals")["actions"]
        time.sleep(1.5)
        after = browser.api("GET", org_id, "approvals")["actions"]
        return after if after and len(after) == len(before) else None

    held = _wait_until(stack, timeout, settled)
    chosen: list[int] = []
    counts: dict[str, int] = {}
    for action in held:
        if counts.get(action["kind"], 0) < SAMPLE.get(action["kind"], 0):
            counts[action["kind"]] = counts.get(action["kind"], 0) + 1
            chosen.append(action["id"])
    browser.api("POST", org_id, "approvals", {"approve": chosen})
    return {"waiting": len(held), "approved": counts}


def _wait_until(stack: Stack, timeout: float, probe):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"the demo waited {timeout:.0f}s for the outbox and gave up")


def _sandbox_mail(stack: Stack) -> set[str]:
    """The action keys of the emails in the sandbox's mailbox (from their Message-IDs)."""
    messages = requests.get(f"{stack.sandbox_url}/_sandbox/mail", timeout=10).json()["messages"]
    return {m["message_id"].strip("<>").split("@")[0] for m in messages}


def _sandbox_writes(stack: Stack, provider: str, tenant: str) -> set[str]:
    """The idempotency keys of the writes the sandbox applied for one organization."""
    url = f"{stack.sandbox_url}/_sandbox/writes?provider={provider}&tenant={tenant}"
    writes = requests.get(url, timeout=10).json()["writes"]
    return {w["idempotency_key"] for w in writes if w["applied"] and w["idempotency_key"]}


def open_balances(summary: dict) -> dict[str, str]:
    """Open balance per currency, from the admin page's aging."""
    return {row["currency"]: f"{Decimal(row['total']):.2f}" for row in summary["aging"]}


def sandbox_open_balances(stack: Stack, provider: str, name: str) -> dict[str, str]:
    tenant = sandbox_tenant(stack, provider, name)
    url = f"{stack.sandbox_url}/_sandbox/{provider}/{tenant}/summary"
    data = requests.get(url, timeout=10).json()
    totals = data["open_balance"] if provider == "quickbooks" else data["openAmountDue"]
    return {currency: f"{Decimal(total):.2f}" for currency, total in sorted(totals.items())}


def wait_for(browser: FormBrowser, org_id: int, done, timeout: float, stack: Stack) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        current = browser.summary(org_id)
        if current.get("last_sync_error") and "Rate limited" not in current["last_sync_error"]:
            raise SystemExit(f"sync failed: {current['last_sync_error']}")
        if done(current):
            return current
        time.sleep(0.5)
    deliveries = requests.get(f"{stack.sandbox_url}/_sandbox/webhooks", timeout=10).json()
    raise SystemExit(
        f"organization {org_id} did not reach the expected state in {timeout:.0f}s;\n"
        f"its summary: {json.dumps(current)[:1500]}\nwebhook deliveries: {deliveries[-10:]}"
    )


def make_sandbox_payment(stack: Stack, provider: str, summary: dict) -> dict:
    """Pays one open invoice in full in the sandbox, which fires the provider's webhook."""
    base = f"{stack.sandbox_url}/_sandbox/{provider}"
    tenant = sandbox_tenant(stack, provider, summary["name"])
    invoice = requests.get(f"{base}/{tenant}/open-invoices", timeout=10).json()["invoices"][0]
    response = requests.post(
        f"{base}/{tenant}/payments", json={"invoice_id": invoice["id"]}, timeout=10
    )
    response.raise_for_status()
    return {
        "invoice": invoice["number"],
        "amount": invoice["balance"],
        "currency": invoice["currency"],
    }


def sandbox_tenant(stack: Stack, provider: str, name: str) -> str:
    if provider == "quickbooks":
        rows = requests.get(f"{stack.sandbox_url}/_sandbox/quickbooks/companies", timeout=10).json()
        tenants = {c["name"]: c["realm_id"] for c in rows["companies"]}
    else:
        rows = requests.get(f"{stack.sandbox_url}/_sandbox/xero/organisations", timeout=10).json()
        tenants = {o["name"]: o["tenantId"] for o in rows["organisations"]}
    if name not in tenants:
        raise SystemExit(f"the sandbox has no {provider} company named {name!r}")
    return str(tenants[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--headless", action="store_true", help="drive the loop and exit")
    parser.add_argument("--web-port", type=int, default=5000)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--smtp-port", type=int, default=8025, help="the sandbox's mail server")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--workdir", default=str(ROOT / "instance" / "demo"))
    parser.add_argument("--sandbox-size", default="demo", choices=("small", "demo", "large"))
    args = parser.parse_args(argv)
    check_redis(args.redis_url)
    workdir = Path(args.workdir)
    database_url = args.database_url or f"sqlite:///{ROOT / 'instance' / 'dunwell.sqlite3'}"
    (ROOT / "instance").mkdir(exist_ok=True)
    stack = Stack(
        args.web_port,
        args.sandbox_port,
        database_url,
        args.redis_url,
        workdir,
        args.sandbox_size,
        smtp_port=args.smtp_port,
    )
    try:
        stack.start()
        if args.headless:
            print(json.dumps({"ok": True, "organizations": run_headless(stack)}, indent=2))
            return 0
        print_banner(stack)
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def print_banner(stack: Stack) -> None:
    print(
        f"""
Dunwell is running.

  Admin page:   {stack.web_url}/
  Sandbox:      {stack.sandbox_url}  (QuickBooks Online and Xero stand-ins)
  Mailbox:      {stack.mailbox_url}  (every email sent, per customer)
  Logs:         {stack.workdir}/*.log

Open the admin page, press "Connect to QuickBooks Online" (or Xero), approve on the sandbox's
consent page, and watch the mirror and the aging fill in. To see a webhook arrive, pay an
invoice in the sandbox, with the page below or from a shell:

  curl -X POST {stack.sandbox_url}/_sandbox/quickbooks/<realm>/payments \\
       -H 'Content-Type: application/json' -d '{{"invoice_id": "<id>"}}'

or use the "Pay in full" buttons on the sandbox's own page: {stack.sandbox_url}/_sandbox/
Press Ctrl-C to stop everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
