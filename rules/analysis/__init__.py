"""What a rule set would do, without writing anything: the preview of the next run, and the
backtest that replays a draft over the mirror's past (with its simulation of the outbox).
"""
