"""The evaluator, pure: mirror facts + a compiled rule book + an "as of" date -> explained
decisions. Nothing here reads the database or the clock; rules.load builds the facts.
"""
