"""`flask rules ...`: validate, import, export, preview, backtest."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import date
from datetime import datetime

from core.db import session_scope
from tests.rules.factories import customer_row
from tests.rules.factories import invoice_row
from tests.rules.factories import org_row
from tests.rules.factories import simple_rules


def seed(session_factory) -> int:
    with session_scope(session_factory) as db:
        org = org_row(db, synced_at=datetime(2025, 3, 12, tzinfo=UTC))
        customer_row(db, org, "C1")
        invoice_row(db, org, "I1", "C1", date(2025, 3, 5), 100)
        return org.id


def write(tmp_path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_validate_prints_each_problem_and_fails(app, session_factory, tmp_path) -> None:
    org_id = str(seed(session_factory))
    runner = app.test_cli_runner()
    good = runner.invoke(
        args=["rules", "validate", "--org", org_id, write(tmp_path, "ok.json", simple_rules())]
    )
    assert good.exit_code == 0 and json.loads(good.output)["name"] == "Test rules"
    bad_doc = simple_rules(default_policy="nope")
    bad = runner.invoke(
        args=["rules", "validate", "--org", org_id, write(tmp_path, "bad.json", bad_doc)]
    )
    assert bad.exit_code == 1
    assert (
        "default_policy: refers to policy 'nope', which is not defined (defined: std)" in bad.output
    )


def test_import_export_round_trip(app, session_factory, tmp_path) -> None:
    org_id = str(seed(session_factory))
    runner = app.test_cli_runner()
    imported = runner.invoke(
        args=[
            "rules",
            "import",
            "--org",
            org_id,
            "--activate",
            write(tmp_path, "r.json", simple_rules()),
        ]
    )
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.output) == {"version": 1, "active": 1}
    out = tmp_path / "export.json"
    assert runner.invoke(args=["rules", "export", "--org", org_id, "-o", str(out)]).exit_code == 0
    exported = json.loads(out.read_text())
    again = runner.invoke(args=["rules", "import", "--org", org_id, str(out)])
    assert json.loads(again.output) == {"version": 2, "active": 1}
    second = runner.invoke(args=["rules", "export", "--org", org_id, "--version", "2"])
    assert json.loads(second.output)["rules"] == exported["rules"]


def test_preview_and_backtest(app, session_factory, tmp_path) -> None:
    org_id = str(seed(session_factory))
    runner = app.test_cli_runner()
    draft = write(tmp_path, "draft.json", simple_rules())
    shown = runner.invoke(
        args=["rules", "preview", "--org", org_id, "--file", draft, "--as-of", "2025-03-12"]
    )
    assert shown.exit_code == 0, shown.output
    preview = json.loads(shown.output)
    assert preview["as_of"] == "2025-03-12" and preview["counts"] == {"reminder": 1}
    replay = runner.invoke(
        args=[
            "rules",
            "backtest",
            "--org",
            org_id,
            "--file",
            draft,
            "--months",
            "1",
            "--end",
            "2025-03-31",
        ]
    )
    assert replay.exit_code == 0, replay.output
    report = json.loads(replay.output)
    assert report["from"] == "2025-03-01" and report["to"] == "2025-03-31"
    # Due 5 March: s0 that day, s7 on the 12th, s14 on the 19th and repeats on the 26th.
    assert report["totals"]["reminder"] == 4
    missing = runner.invoke(args=["rules", "preview", "--org", "999"])
    assert missing.exit_code != 0 and "no organization 999" in missing.output
