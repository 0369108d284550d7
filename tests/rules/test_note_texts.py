"""Note and task texts are rendered once per distinct set of the inputs their template reads,
and come out exactly as one render per note would make them."""

from __future__ import annotations

from datetime import date
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

import rules.engine.messages as messages
from rules.engine.evaluate import evaluate
from rules.engine.messages import NoteTexts
from rules.engine.messages import context
from rules.engine.messages import render_text
from rules.templates import render as render_module
from rules.templates.render import reads
from tests.rules.answer_key import AS_OF
from tests.rules.answer_key import NOW
from tests.rules.answer_key import with_step
from tests.rules.factories import book
from tests.rules.factories import customer
from tests.rules.factories import facts
from tests.rules.factories import invoice
from tests.rules.factories import simple_rules

STEP = {"key": "s0", "name": ""}


def _line(number: str, balance: str = "100.00") -> dict[str, Any]:
    return {"number": number, "currency": "USD", "balance": balance, "total": balance}


def _payload(number: str, name: str = "Acme", balance: str = "100.00") -> dict[str, Any]:
    return {"customer": {"name": name}, "invoices": [_line(number, balance)]}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources rendered through rules.engine.messages, in order."""
    done: list[str] = []
    real = messages.render

    def counted(source: str, ctx: dict[str, Any], name: str = "the template") -> str:
        done.append(source)
        return real(source, ctx, name)

    monkeypatch.setattr(messages, "render", counted)
    return done


def test_a_template_reading_only_the_day_is_rendered_once(renders: list[str]) -> None:
    texts = NoteTexts("Org", AS_OF)
    source = "Reached the last step on {{ as_of }}."
    out = {texts.render(source, _payload(f"N{i}", f"C{i}"), STEP, "n") for i in range(50)}
    assert out == {f"Reached the last step on {AS_OF.isoformat()}."}
    assert renders == [source]


def test_different_values_read_render_again(renders: list[str]) -> None:
    texts = NoteTexts("Org", AS_OF)
    source = "{{ invoices[0].number }} of {{ customer.name }}: {{ totals[0].balance|money }}"
    got = [
        texts.render(source, _payload("N1"), STEP, "n"),
        texts.render(source, _payload("N2"), STEP, "n"),
        texts.render(source, _payload("N1", "Other"), STEP, "n"),
        texts.render(source, _payload("N1", balance="7.5"), STEP, "n"),
        texts.render(source, _payload("N1"), STEP, "n"),
    ]
    assert got == ["N1 of Acme: 100.00", "N2 of Acme: 100.00", "N1 of Other: 100.00",
                   "N1 of Acme: 7.50", "N1 of Acme: 100.00"]  # fmt: skip
    assert len(renders) == 4


def test_same_texts_as_one_render_per_note() -> None:
    sources = [
        "{{ step.key }} {{ organization.name }} {{ as_of }}",
        "{% for i in invoices %}{{ i.number }}={{ i.balance }}{% endfor %} {{ credit }}",
        "{{ customer }} {{ offers }} {{ instalments }} {{ range(3)|list }}",
        "{{ missing.field }}",
        "{{ 1/0 }}",
    ]
    payloads = [_payload("N1"), _payload("N2", balance="1.0"), _payload("N2", balance="1.00")]
    texts = NoteTexts("Org", AS_OF)
    for source in sources:
        for payload in payloads * 2:
            expected = render_text(source, context(payload, "Org", AS_OF, STEP), "n")
            assert texts.render(source, payload, STEP, "n") == expected


def test_equal_numbers_that_print_differently_are_not_confused() -> None:
    texts = NoteTexts("Org", AS_OF)
    source = "{{ customer.name }}"
    one = {"customer": {"name": Decimal("1.0")}, "invoices": []}
    other = {"customer": {"name": Decimal("1.00")}, "invoices": []}
    flag = {"customer": {"name": True}, "invoices": []}
    number = {"customer": {"name": 1}, "invoices": []}
    assert [texts.render(source, p, STEP, "n") for p in (one, other, flag, number)] == [
        "1.0",
        "1.00",
        "True",
        "1",
    ]


def test_a_template_with_random_output_is_rendered_every_time(renders: list[str]) -> None:
    source = "{{ [1, 2, 3]|random }}"
    assert reads(source) is None
    texts = NoteTexts("Org", AS_OF)
    for _ in range(3):
        texts.render(source, _payload("N1"), STEP, "n")
    assert renders == [source] * 3


def test_a_render_out_of_time_is_tried_again(
    renders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_module, "RENDER_BUDGET_MS", 1)
    source = "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}"
    texts = NoteTexts("Org", AS_OF)
    first = texts.render(source, _payload("N1"), STEP, "the note text")
    again = texts.render(source, _payload("N1"), STEP, "the note text")
    assert first == again
    assert first.startswith("[template error: the note text took longer than 1 ms")
    assert renders == [source, source]


def test_an_evaluation_writes_each_invoice_its_own_text() -> None:
    text = "{{ invoices[0].number }} at {{ step.key }}, {{ as_of }}"
    doc = with_step(
        simple_rules(),
        0,
        actions=[{"type": "reminder", "template": "t"}, {"type": "note", "text": text}],
    )
    due = AS_OF - timedelta(days=2)
    invoices = [invoice(f"I{n}", due, number=f"N{n}") for n in range(5)]
    result = evaluate(book(doc), facts(customer("C1", *invoices)), AS_OF, NOW)
    notes = sorted(d.payload["text"] for d in result.decisions if d.kind == "note")
    assert notes == [f"N{n} at s0:note:1, {date(2025, 3, 12).isoformat()}" for n in range(5)]
