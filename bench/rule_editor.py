"""Benchmark the rule editor's own work (not a test; prints figures): for the starter policy
and for a large rule set (20 policies x 50 steps with conditions, 30 templates, 20 segments),

- validating a document as every form save does (rules.ruleset.schema, templates rendered
  against the sample context),
- the form round trip of every step (policy.forms, both directions),
- the diff in words of two versions that differ in every step,
- the written policy: its sections, and the PDF (WeasyPrint).

    .venv/bin/python bench/rule_editor.py            # about half a minute
    .venv/bin/python bench/rule_editor.py --repeat 20
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jinja2 import Environment  # noqa: E402
from jinja2 import FileSystemLoader  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from policy import forms  # noqa: E402
from policy.diff import diff  # noqa: E402
from policy.pdf import pdf_from_html  # noqa: E402
from policy.written import sections  # noqa: E402
from rules.ruleset.defaults import REMINDER_BODY  # noqa: E402
from rules.ruleset.defaults import starter  # noqa: E402
from rules.ruleset.schema import validate_document  # noqa: E402

TEMPLATES = Path(__file__).resolve().parent.parent / "connector" / "templates"


def large() -> dict:
    doc = starter()
    doc["templates"] = {
        f"t{i}": {
            "subject": f"Reminder {i} from {{{{ organization.name }}}}",
            "body": REMINDER_BODY,
        }
        for i in range(30)
    }
    doc["policies"] = []
    for p in range(20):
        steps = []
        for s in range(50):
            steps.append(
                {
                    "key": f"s{s}",
                    "name": f"Step {s}",
                    "offset_days": -10 + s * 5,
                    "conditions": [
                        {"fact": "invoice_balance", "op": "gte", "value": str(10 * s)},
                        {"fact": "currency", "op": "in", "value": ["USD", "EUR"]},
                    ],
                    "actions": [
                        {"type": "reminder", "template": f"t{(p + s) % 30}"},
                        {"type": "note", "text": f"Step {s} on {{{{ as_of }}}}"},
                    ],
                }
            )
        doc["policies"].append({"key": f"p{p}", "name": f"Policy {p}", "steps": steps})
    doc["default_policy"] = "p0"
    doc["payment_plans"]["template"] = "t0"
    doc["segments"] = [
        {"key": f"g{i}", "name": f"Segment {i}", "policy": f"p{i}",
         "match": {"tags_any": [f"tag{i}"], "currencies": ["USD"]}}
        for i in range(20)
    ]  # fmt: skip
    return validate_document(doc)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def round_trip(doc: dict) -> None:
    for policy in doc["policies"]:
        for step in policy["steps"]:
            shown = forms.step_to_form(step)
            forms.step_from_form(MultiDict(shown), step["key"])
    forms.settings_from_form(MultiDict(forms.settings_to_form(doc)), doc)


def pdf(doc: dict) -> bytes:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True)
    html = env.get_template("policy/written_pdf.html").render(
        org={"name": "Bench Ltd"},
        version={"number": 7, "document": doc},
        active=True,
        sections=sections(doc),
        today="2026-11-30",
    )
    return pdf_from_html(html)


def measure(name: str, doc: dict, repeat: int) -> None:
    other = copy.deepcopy(doc)
    for policy in other["policies"]:
        for step in policy["steps"]:
            step["offset_days"] += 1
    steps = sum(len(p["steps"]) for p in doc["policies"])
    data = pdf(doc)
    figures = {
        "validate (a form save)": timed(lambda: validate_document(doc), repeat),
        "form round trip, every step": timed(lambda: round_trip(doc), repeat),
        "diff in words, every step changed": timed(lambda: diff(doc, other), repeat),
        "written policy sections": timed(lambda: sections(doc), repeat),
        "written policy PDF": timed(lambda: pdf(doc), max(1, repeat // 2)),
    }
    print(f"{name}: {len(doc['policies'])} policies, {steps} steps, "
          f"{len(doc['templates'])} templates; PDF {len(data):,} bytes")  # fmt: skip
    for label, seconds in figures.items():
        print(f"  {label:<36} {seconds * 1000:9.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    measure("starter", validate_document(starter()), args.repeat)
    measure("large", large(), args.repeat)


if __name__ == "__main__":
    main()
