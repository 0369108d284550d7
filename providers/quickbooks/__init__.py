"""QuickBooks Online provider: `QuickBooks` implements providers.base.Provider."""

from providers.quickbooks.adapter import QuickBooks

__all__ = ["QuickBooks"]
