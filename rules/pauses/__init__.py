"""Reasons not to chase: disputes, promises to pay and payment plans. Their tables, the shapes
of their inputs, recording them, loading them for an evaluation, and judging them (pure).
"""
