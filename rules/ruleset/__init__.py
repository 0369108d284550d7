"""A rule set: its document's one schema (with the checks across fields), the compiled book the
evaluator reads, versions in the database, the starter set, and the features switched on.
"""
