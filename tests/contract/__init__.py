"""Contract tests: the real QuickBooks and Xero clients against the sandbox."""
