"""A virtualenv of its own for each real client, built once and kept between runs.

The two Singer taps pin different singer-python versions, so no two clients share an
environment. Each lives in `.cache/clients/<name>-<hash>`, where the hash covers its pinned
requirements (tests/contract/clients/<name>.txt) and this Python's version: changing a pin builds
a new one. Building is locked per environment, so parallel test workers build it once; an
environment is used only once its `ready` stamp exists. Without network access to the package
index the tests are skipped loudly, except in CI (`CI` set), where that is a failure.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent / "clients"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "clients"
INSTALL_TIMEOUT = 600
INDEX_PROBE = "https://pypi.org/simple/pip/"


def python_for(name: str) -> Path:
    """The interpreter of `name`'s environment, building the environment if need be."""
    requirements = CLIENTS / f"{name}.txt"
    place = CACHE / f"{name}-{_digest(requirements)}"
    python = place / "bin" / "python"
    if (place / "ready").exists():
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(place.with_name(place.name + ".lock")):
        if not (place / "ready").exists():
            _build(place, requirements)
    return python


def _digest(requirements: Path) -> str:
    text = requirements.read_bytes() + f"{sys.version_info[:2]}".encode()
    return hashlib.sha256(text).hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(place: Path, requirements: Path) -> None:
    shutil.rmtree(place, ignore_errors=True)
    # An environment without pip of its own, filled by this interpreter's pip: much quicker.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(place)], check=True, timeout=120
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(place / "bin" / "python"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--timeout",
            "30",
            "--retries",
            "2",
            "--requirement",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    if install.returncode != 0:
        shutil.rmtree(place, ignore_errors=True)
        _give_up(requirements.stem, install.stdout + install.stderr)
    (place / "ready").write_text(requirements.read_text())


def _give_up(name: str, output: str) -> None:
    if _index_reachable() or os.environ.get("CI"):
        pytest.fail(f"installing {name} failed:\n{output[-3000:]}")
    message = f"PyPI is not reachable: {name} could not be installed, its contract test SKIPPED"
    print(f"\n!!! {message}\n", file=sys.stderr)
    pytest.skip(message)


def _index_reachable() -> bool:
    """Whether pip's index answers (PIP_INDEX_URL when set, else PyPI)."""
    index = os.environ.get("PIP_INDEX_URL", "").rstrip("/")
    probe = f"{index}/pip/" if index else INDEX_PROBE
    try:
        with urllib.request.urlopen(probe, timeout=10):
            return True
    except (OSError, ValueError):
        return False
