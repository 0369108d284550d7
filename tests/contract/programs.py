"""Running a client program in its own virtualenv with the providers' hosts mapped to the
sandbox (see clients/redirect.py), and reading what it printed."""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.contract.venvs import CLIENTS

TIMEOUT = 120
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def real_hosts(sandbox: str) -> dict[str, str]:
    """Each real base URL the clients call, and where the sandbox serves the same paths."""
    quickbooks = {
        host: f"{sandbox}/qbo"
        for host in (
            "https://developer.intuit.com",  # OpenID discovery (intuit-oauth)
            "https://developer.api.intuit.com",  # revocation
            "https://appcenter.intuit.com",  # consent
            "https://oauth.platform.intuit.com",  # tokens
            "https://quickbooks.api.intuit.com",  # Accounting API
            "https://sandbox-quickbooks.api.intuit.com",
        )
    }
    return {
        **quickbooks,
        "https://login.xero.com": f"{sandbox}/xero",
        "https://identity.xero.com": f"{sandbox}/xero/identity",
        "https://api.xero.com": f"{sandbox}/xero",
    }


def command(python: Path, program: str, *arguments: str) -> list[str]:
    """`program` is a file in tests/contract/clients or a console script of the client."""
    target = str(CLIENTS / program) if program.endswith(".py") else program
    return [str(python), str(CLIENTS / "redirect.py"), target, *arguments]


def environment(sandbox: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in PROXY_VARIABLES and not key.startswith("PYTHON")
    }
    env["DUNWELL_REDIRECTS"] = json.dumps(real_hosts(sandbox))
    return env


def run(sandbox: str, python: Path, program: str, *arguments: str) -> str:
    """Run to the end; its standard output. A failure shows what the client printed."""
    done = subprocess.run(
        command(python, program, *arguments),
        env=environment(sandbox),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{program} failed:\n{done.stderr[-4000:]}"
    return done.stdout


class Conversation:
    def __init__(self, process: subprocess.Popen, errors: IO[str]) -> None:
        self.process = process
        self.errors = errors

    def receive(self) -> dict:
        """The program's next line, within TIMEOUT."""
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.process.communicate()
            raise AssertionError(f"the program said nothing:\n{self.stderr()}")
        return json.loads(line)

    def finish(self, answer: dict) -> str:
        """Send the last line; the program's remaining output once it has ended well."""
        out, _ = self.process.communicate(json.dumps(answer) + "\n", timeout=TIMEOUT)
        assert self.process.returncode == 0, self.stderr()
        return out

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-4000:]


@contextmanager
def started(sandbox: str, python: Path, program: str, *arguments: str) -> Iterator[Conversation]:
    """A program that talks on its standard input and output, one JSON line at a time; killed
    on the way out if it is still running."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            command(python, program, *arguments),
            env=environment(sandbox),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            yield Conversation(process, errors)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()


def last_json_line(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def singer_records(output: str) -> dict[str, list[dict]]:
    """A tap's RECORD messages by stream."""
    records: dict[str, list[dict]] = {}
    for line in output.splitlines():
        message = json.loads(line)
        if message.get("type") == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    return records


def select_streams(catalog: dict, streams: set[str]) -> dict:
    """A tap's discovered catalog cut down to `streams`, each marked selected."""
    chosen = [entry for entry in catalog["streams"] if entry["tap_stream_id"] in streams]
    assert {entry["tap_stream_id"] for entry in chosen} == streams
    for entry in chosen:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
    return {**catalog, "streams": chosen}
