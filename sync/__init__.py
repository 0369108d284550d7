"""Keeping the mirror in step with the provider: pull pages, upsert them, advance cursors."""
