"""Run the sandbox: python -m sandbox --port 8765 --webhook-base http://127.0.0.1:5000
[--smtp-port 8025]"""

from __future__ import annotations

import argparse
import os
from datetime import date

from werkzeug.serving import make_server

from sandbox.app import SandboxConfig
from sandbox.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--webhook-base", default="", help="Dunwell's base URL for webhooks")
    parser.add_argument("--size", default="demo", choices=("small", "demo", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    parser.add_argument("--smtp-port", type=int, default=0, help="run a mail server on this port")
    parser.add_argument(
        "--xero-fleet",
        type=int,
        default=int(os.environ.get("SANDBOX_XERO_FLEET", "0") or 0),
        help="this many tiny Xero organisations more (default: $SANDBOX_XERO_FLEET or 0)",
    )
    args = parser.parse_args()
    base = args.webhook_base.rstrip("/")
    config = SandboxConfig(
        seed=args.seed,
        today=args.today,
        size=args.size,
        intuit_webhook_url=f"{base}/webhooks/quickbooks" if base else "",
        xero_webhook_url=f"{base}/webhooks/xero" if base else "",
        smtp_port=args.smtp_port,
        smtp_host=args.host,
        xero_fleet=args.xero_fleet,
    )
    server = make_server(args.host, args.port, create_app(config), threaded=True)
    print(f"sandbox listening on http://{args.host}:{args.port}", flush=True)
    if args.smtp_port:
        print(f"sandbox mail server on smtp://{args.host}:{args.smtp_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
