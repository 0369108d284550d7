"""Dunning, discount and credit-hold rules: versioned rule sets, a pure evaluator, the outbox.

`rules.evaluate` turns mirror facts, a rule set and an "as of" date into explained decisions;
`rules.outbox` stores them exactly once; `rules.jobs` runs it all in RQ workers.
"""
