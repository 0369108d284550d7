"""Xero: OAuth, webhooks, incremental reads and write-back for one organisation at a time."""

from providers.xero.adapter import Xero

__all__ = ["Xero"]
