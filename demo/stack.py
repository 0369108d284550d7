"""The demo stack: the sandbox, the web app, an RQ worker, the cron scheduler and a mail server,
started as real processes on this machine (`make demo`, the end-to-end tests, the benchmarks).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import BinaryIO

import requests
from cryptography.fernet import Fernet
from redis import Redis
from redis.exceptions import RedisError

from core.queues import WORKER_QUEUES
from core.worker import WORKER_ARGS
from providers import PROVIDERS
from sandbox.client_env import client_env

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Stack:
    web_port: int
    sandbox_port: int
    database_url: str
    redis_url: str
    workdir: Path
    sandbox_size: str = "demo"
    smtp_port: int = 0  # the sandbox's mail server; 0: any free port
    hooks_port: int = 0  # the webhook receiver's own gunicorn; 0: any free port
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[BinaryIO] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def hooks_url(self) -> str:
        """Where the sandbox sends its webhooks: processes that serve nothing else."""
        return f"http://127.0.0.1:{self.hooks_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def mailbox_url(self) -> str:
        return f"{self.sandbox_url}/_sandbox/mailbox"

    def __post_init__(self) -> None:
        self.smtp_port = self.smtp_port or _free_port()
        self.hooks_port = self.hooks_port or _free_port()

    def env(self) -> dict[str, str]:
        sandbox = self.sandbox_url
        env = dict(os.environ)
        env.update(
            {
                "SECRET_KEY": _persistent_secret(self.workdir / "secret_key", os.urandom(24).hex()),
                "TOKEN_ENCRYPTION_KEY": _persistent_secret(
                    self.workdir / "token_key", Fernet.generate_key().decode()
                ),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "PUBLIC_URL": self.web_url,
                "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}?security=none",
                "MAIL_FROM": "reminders@mail.dunwell.test",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for provider in PROVIDERS:
            env.update(client_env(provider, sandbox, self.web_url))
        return env

    def commands(self) -> dict[str, list[str]]:
        """The processes of the stack, by name, in the order they start. Webhooks have a
        gunicorn of their own (`hooks`), so a backtest or a page never holds the GIL an
        acknowledgement waits for; `web` serves them too, for a deployment with one pool."""
        redis_url = self.redis_url
        return {
            "sandbox": [
                sys.executable, "-m", "sandbox", "--port", str(self.sandbox_port),
                "--webhook-base", self.hooks_url, "--size", self.sandbox_size,
                "--smtp-port", str(self.smtp_port),
            ],
            "web": [
                str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4",
                "--graceful-timeout", "5", "--control-socket", str(self.workdir / "gunicorn.ctl"),
                "--bind", f"127.0.0.1:{self.web_port}", "connector:create_app()",
            ],
            "hooks": [
                str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4",
                "--graceful-timeout", "5", "--bind", f"127.0.0.1:{self.hooks_port}",
                "connector.webhooks:create_receiver()",
            ],
            "worker": worker_command(redis_url),
            "cron": [str(VENV_BIN / "rq"), "cron", "--url", redis_url, "connector/cron.py"],
        }  # fmt: skip

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        _run([str(VENV_BIN / "flask"), "--app", "connector", "migrate"], env)
        for name, command in self.commands().items():
            self.launch(name, command, env)
        _wait_http(f"{self.sandbox_url}/_sandbox/quickbooks/companies", "the sandbox", self)
        _wait_http(f"{self.web_url}/", "the web app", self)
        _wait_http(f"{self.hooks_url}/", "the webhook receiver", self)

    def launch(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """Start one process, in a process group of its own (so `kill` reaches what it forks,
        an RQ worker's work-horse), its output in <workdir>/<name>.log."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed by stop()
        self.logs.append(log)
        self.processes[name] = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env or self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything it started, as a crash of the machine or the OOM
        killer would (an RQ work-horse puts itself in a process group of its own, so the
        group alone is not enough); the process is forgotten (start another with `launch`)."""
        process = self.processes.pop(name)
        for pid in [*_descendants(process.pid), process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()

    def wait_until(
        self, probe: Callable[[], Any], timeout: float, what: str, pause: float = 0.2
    ) -> Any:
        """`probe()`'s first truthy answer within `timeout` seconds, while every process of the
        stack stays alive; TimeoutError naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            found = probe()
            if found:
                return found
            time.sleep(pause)
        raise TimeoutError(f"waited {timeout:.0f}s for {what}")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(
                    f"{name} stopped (exit {process.returncode}); see {self.workdir / name}.log"
                )

    def stop(self) -> None:
        """Stop in reverse order of start: the worker finishes its job while the sandbox is up."""
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()


def worker_command(redis_url: str, queues: tuple[str, ...] = WORKER_QUEUES) -> list[str]:
    """An RQ worker as the Procfile runs it (core.worker's flags), with its scheduler."""
    return [
        str(VENV_BIN / "rq"), "worker", *WORKER_ARGS, "--url", redis_url,
        "--with-scheduler", *queues,
    ]  # fmt: skip


def _descendants(pid: int) -> list[int]:
    """The processes under `pid`, children first found (Linux: read from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _persistent_secret(path: Path, fresh: str) -> str:
    """Keys survive demo restarts, so stored tokens stay readable."""
    if not path.exists():
        path.write_text(fresh)
        path.chmod(0o600)
    return path.read_text().strip()


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def _wait_http(url: str, what: str, stack: Stack, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not answer at {url} within {timeout:.0f}s")


def check_redis(url: str) -> None:
    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except RedisError as exc:
        raise SystemExit(
            f"Redis is not reachable at {url} ({exc}).\n"
            "Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 "
            '--save "" --appendonly no'
        ) from None
