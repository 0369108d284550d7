"""The headless demo, end to end: sandbox, web app, RQ worker and cron as real processes over
real HTTP and Redis. Connect both providers, backfill, pay an invoice in each sandbox, and see
the webhook bring the payment into the mirror, which must agree with the sandbox to the cent."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.e2e


def test_headless_demo_connects_syncs_and_follows_webhooks(empty_database_url, redis_url, tmp_path):
    sandbox_port = free_port()
    command = [
        sys.executable, "-m", "demo", "--headless",
        "--web-port", str(free_port()), "--sandbox-port", str(sandbox_port),
        "--smtp-port", str(free_port()),
        "--database-url", empty_database_url, "--redis-url", redis_url,
        "--workdir", str(tmp_path / "demo"), "--sandbox-size", "small",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    logs = "".join(p.read_text() for p in (tmp_path / "demo").glob("*.log"))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{logs[-4000:]}"
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    orgs = summary["organizations"]
    assert {key.split(":")[0] for key in orgs} == {"quickbooks", "xero"}
    assert sum(key.startswith("xero") for key in orgs) >= 2  # one grant, several organisations
    for org in orgs.values():
        assert org["backfill"]["invoices"] > 0
        assert org["mirror_open"] == org["sandbox_open"]
    paid = [org for org in orgs.values() if "payment" in org]
    assert len(paid) == 2
    for org in paid:
        assert org["mirror_open_after_payment"] == org["sandbox_open_after_payment"]
        assert org["mirror_open_after_payment"] != org["mirror_open"]
        assert org["webhook_events"] >= 1
    for org in orgs.values():
        # Every organization's first run waited for approval; what was approved went out, and
        # the mailbox and the sandbox's ledger hold exactly what the outbox says was sent.
        rules = org["rules"]
        assert rules["approved"]["waiting"] > 0
        approved = sum(rules["approved"]["approved"].values())
        assert (
            approved + sum(rules["outbox"].get("awaiting_approval", {}).values())
            == rules["approved"]["waiting"]
        )
        assert rules["emails_sent"] > 0 and rules["ledger_writes_sent"] > 0
        assert rules["outbox"]["sent"].get("credit_hold", 0) > 0
        assert rules["matches"] is True, rules
    assert "Traceback" not in logs, logs[logs.find("Traceback") - 500 :][:3000]
