"""Input that cannot be accepted, named field by field.

Each concern raises its own subclass (a rule set, a pause, an API body); the web layer answers
any of them the same way: a 422 whose `errors` map field paths to messages a person can act on,
or the same messages beside the fields of a form.
"""

from __future__ import annotations


class InputInvalid(ValueError):
    """`errors` maps a field path ("policies[0].steps[1].offset_days", "" for the whole input)
    to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
        self.errors = errors
