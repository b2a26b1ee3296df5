"""Subprocesses the suite starts for real (an ASGI server, a Celery worker), and how to stop them."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest


class AsgiServerFactory(Protocol):
    """Start the project's ASGI app in a subprocess; returns its base URL (``http://127.0.0.1:<port>``)."""

    def __call__(self, *, env: Mapping[str, str] | None = None, unset: tuple[str, ...] = ()) -> str: ...

    def kill(self, base_url: str) -> None:
        """Kill the server at ``base_url`` the hard way (SIGKILL: no shutdown code runs)."""


@dataclass(frozen=True)
class CeleryWorker:
    hostname: str
    database_url: str
    log_path: Path


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (a warm shutdown for Celery, a graceful one for uvicorn), then SIGKILL."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    """Return once ``process`` accepts connections on 127.0.0.1:``port``; fail the test if it dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_tail(log_path)}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not listen on {port} within {timeout:g} s:\n{log_tail(log_path)}", pytrace=False)
