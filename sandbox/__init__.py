"""A local stand-in for the QuickBooks Online and Xero HTTP APIs.

One Flask app serves both providers under their own prefixes (`/qbo/...`, `/xero/...`) and a
control API under `/_sandbox/...` that the demo, the end-to-end tests and the benchmarks use to
make changes (which fire signed webhooks) and to switch faults on. Shapes follow the providers'
published payloads; nothing here is imported by Dunwell itself.
"""

from sandbox.app import SandboxConfig
from sandbox.app import create_app

__all__ = ["SandboxConfig", "create_app"]
