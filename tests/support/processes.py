"""Subprocesses the suite starts for real (an ASGI server, a Celery worker), and how to stop them."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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


def wait_for_idle_worker(worker: CeleryWorker, queues: Sequence[str], timeout_s: float) -> None:
    """Return once the worker has finished what the test gave it: its queues are empty and it runs and
    holds nothing; tasks it holds for later (a countdown poll) are revoked. The test's data is about to
    be flushed: a task still running would act on rows that are gone (or on the next test's)."""
    from builder.config.celery import app

    deadline = time.monotonic() + timeout_s
    while True:
        inspect = app.control.inspect(destination=[worker.hostname], timeout=1.0)
        # A solo worker answers only between tasks: no reply means it is busy.
        active, reserved, scheduled = inspect.active(), inspect.reserved(), inspect.scheduled()
        for entry in (scheduled or {}).get(worker.hostname, []):
            app.control.revoke(entry["request"]["id"])
        if (
            active is not None
            and reserved is not None
            and not active.get(worker.hostname)
            and not reserved.get(worker.hostname)
            and _queued_messages(app, queues) == 0
        ):
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"the Celery worker was still busy {timeout_s:g} s after the test ended:\n{log_tail(worker.log_path)}",
                pytrace=False,
            )
        time.sleep(0.05)


def _queued_messages(app: Any, queues: Sequence[str]) -> int:
    from amqp.exceptions import ChannelError

    count = 0
    with app.connection_for_read() as connection:
        for name in queues:
            # Redis: an empty queue has no key, so it "does not exist".
            with contextlib.suppress(ChannelError):
                count += connection.default_channel.queue_declare(queue=name, passive=True).message_count
    return count
