"""Run a client program with the providers' hosts pointed at the sandbox, and nothing else
changed: python redirect.py <program.py | console script> [arguments...]

Runs inside a client's own virtualenv (only its packages and the standard library). The
environment variable DUNWELL_REDIRECTS maps each real base URL to the sandbox's, e.g.
{"https://api.xero.com": "http://127.0.0.1:8765/xero"}. Every request the client sends through
requests or urllib3 to a mapped base URL goes to the sandbox with the rest of its URL unchanged,
the way a hosts-file entry would send it. Some clients hard-code their URLs (tap-xero's token
endpoint, tap-quickbooks' API host), so the clients' own settings cannot do this for all of them.
"""

import importlib.metadata
import json
import os
import runpy
import sys

BASES = json.loads(os.environ["DUNWELL_REDIRECTS"])


def redirected(url: str) -> str:
    for real, local in BASES.items():
        if url == real or url.startswith((real + "/", real + "?")):
            return local + url[len(real) :]
    return url


def patch_requests() -> None:
    try:
        from requests.adapters import HTTPAdapter
    except ImportError:
        return
    send = HTTPAdapter.send

    def send_redirected(self, request, *args, **kwargs):
        request.url = redirected(request.url)
        return send(self, request, *args, **kwargs)

    HTTPAdapter.send = send_redirected


def patch_urllib3() -> None:
    try:
        from urllib3 import PoolManager
    except ImportError:
        return
    urlopen = PoolManager.urlopen

    def urlopen_redirected(self, method, url, *args, **kwargs):
        return urlopen(self, method, redirected(url), *args, **kwargs)

    PoolManager.urlopen = urlopen_redirected


def run(program: str, arguments: list[str]) -> None:
    sys.argv = [program, *arguments]
    if program.endswith(".py"):
        runpy.run_path(program, run_name="__main__")
        return
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name=program)
    sys.exit(entry.load()())


if __name__ == "__main__":
    patch_requests()
    patch_urllib3()
    run(sys.argv[1], sys.argv[2:])
