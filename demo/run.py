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
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from redis import Redis
from rq import Queue

from core.queues import RULES
from core.queues import SYNC
from demo.browser import FormBrowser
from demo.stack import ROOT
from demo.stack import Stack
from demo.stack import check_redis


def run_headless(stack: Stack, timeout: float = 120) -> dict[str, Any]:
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

    actions = _outbox_wait(stack, timeout, delivered)
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
    the rest stays waiting on the outbox page. Waits for the run to finish first: no sync or
    evaluation waiting, running or scheduled to come back (a run that finds the mirror stale
    syncs first), and the actions waiting no longer growing in number."""

    def settled() -> list[dict] | None:
        if not _rules_idle(stack):
            return None
        before = browser.api("GET", org_id, "approvals")["actions"]
        time.sleep(1.5)
        after = browser.api("GET", org_id, "approvals")["actions"]
        steady = after and len(after) == len(before) and _rules_idle(stack)
        return after if steady else None

    held = _outbox_wait(stack, timeout, settled)
    chosen: list[int] = []
    counts: dict[str, int] = {}
    for action in held:
        if counts.get(action["kind"], 0) < SAMPLE.get(action["kind"], 0):
            counts[action["kind"]] = counts.get(action["kind"], 0) + 1
            chosen.append(action["id"])
    browser.api("POST", org_id, "approvals", {"approve": chosen})
    return {"waiting": len(held), "approved": counts}


def _rules_idle(stack: Stack) -> bool:
    """Nothing that could still add actions: no sync or rules job queued, running or
    scheduled."""
    redis = Redis.from_url(stack.redis_url)
    try:
        for name in (SYNC, RULES):
            queue = Queue(name, connection=redis)
            registries = (queue.started_job_registry, queue.scheduled_job_registry)
            if queue.count or any(registry.count for registry in registries):
                return False
        return True
    finally:
        redis.close()


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


def _outbox_wait(stack: Stack, timeout: float, probe: Callable[[], Any]) -> Any:
    try:
        return stack.wait_until(probe, timeout, "the outbox", pause=0.5)
    except TimeoutError:
        raise SystemExit(f"the demo waited {timeout:.0f}s for the outbox and gave up") from None


if __name__ == "__main__":
    sys.exit(main())
