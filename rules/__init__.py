"""Dunning, discount and credit-hold rules: versioned rule sets, a pure evaluator, the outbox.

`rules.engine.evaluate` turns mirror facts, a rule set and an "as of" date into explained decisions;
`rules.jobs` runs it in RQ workers and hands the decisions to the outbox (outbox.intake), which
stores them exactly once and delivers them.
"""
