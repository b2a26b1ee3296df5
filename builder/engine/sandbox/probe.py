"""The isolation check: run a probe in the sandbox and see that every door it tries is shut.

A set-up step that fails, or a probe that gets through (a socket opens, fork works, the project
or an environment variable is visible…), makes the sandbox unavailable: the runner then refuses
to run code instead of running it less isolated. The report also feeds the health endpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.engine.runtime.contract import NodeError

if TYPE_CHECKING:
    from builder.engine.sandbox.runner import SandboxCodeRunner

PROJECT_ROOT = Path(__file__).resolve().parents[3]

# Each check is True when the door is shut.
PROBE_CODE = """
import os


def shut(attempt):
    try:
        attempt()
    except OSError:
        return True
    return False


def main(project_file, environment_marker, package_dirs):
    import socket
    import sys

    return {
        "network": shut(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
        "fork": shut(os.fork),
        "exec": shut(lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"])),
        "project_files": not os.path.exists(project_file),
        "host_files": not os.path.exists("/etc/passwd") and not os.path.exists("/proc/self"),
        "environment": environment_marker not in os.environ and not os.environ,
        "read_only_root": shut(lambda: open("/probe", "w")),
        "tmp_writable": not shut(lambda: open("/tmp/probe", "w").close()),
        "packages": not any(os.path.isdir(path) and os.listdir(path) for path in package_dirs),
        "uid": os.getuid(),
        "pid": os.getpid(),
    }
"""
_REQUIRED = (
    "network", "fork", "exec", "project_files", "host_files", "environment", "read_only_root", "tmp_writable",
    "packages",
)  # fmt: skip
_ENVIRONMENT_MARKER = "AGENTLOOM_SANDBOX_PROBE"


async def probe(runner: SandboxCodeRunner) -> dict[str, Any]:
    """Run the probe with ``runner``'s set-up; a report whose ``available`` says whether code may run."""
    import os

    report: dict[str, Any] = {
        "available": False,
        "reason": None,
        "mode": None,
        "namespaces": ["mount", "network", "pid", "ipc", "uts"],
        "filesystem": (
            "pivot_root into a tmpfs root with the interpreter, its standard library and shared libraries"
            " read-only (no site-packages) and a private /tmp"
        ),
        "runs_as": None,
        "seccomp": "sockets, fork/exec, namespaces, mounts, ptrace, keyrings, io_uring… fail with EPERM",
        "limits": dataclasses.asdict(runner.limits),
        "python": runner.python,
    }
    os.environ[_ENVIRONMENT_MARKER] = "must-not-leak"
    started = time.monotonic()
    try:
        inputs = {
            "project_file": str(PROJECT_ROOT / "pyproject.toml"),
            "environment_marker": _ENVIRONMENT_MARKER,
            "package_dirs": _package_dirs(),
        }
        checks = (await runner._execute(PROBE_CODE, inputs, 15.0, warm=False)).result
    except NodeError as error:
        report["reason"] = error.message
        return report
    finally:
        os.environ.pop(_ENVIRONMENT_MARKER, None)
    report["start_ms"] = round((time.monotonic() - started) * 1000, 1)
    report["checks"] = checks
    # Started as root, the code runs as a random uid; in a user namespace, as its uid 0.
    if checks.get("uid") == 0:
        report["mode"], report["runs_as"] = "user_namespace", "uid 0 of its own user namespace, no capabilities"
        report["namespaces"] = ["user", *report["namespaces"]]
    else:
        report["mode"], report["runs_as"] = "root", "a random uid that owns nothing, no capabilities"
    open_doors = [name for name in _REQUIRED if checks.get(name) is not True]
    if checks.get("pid") != 1:
        open_doors.append("pid")
    if open_doors:
        report["reason"] = f"the sandbox does not isolate: {', '.join(open_doors)}"
        return report
    report["available"] = True
    return report


def _package_dirs() -> list[str]:
    """Where this server's packages are installed (its virtualenv's and its base interpreter's)."""
    import site
    import sys

    return sorted({*site.getsitepackages([sys.prefix, sys.base_prefix]), *(p for p in sys.path if "-packages" in p)})


_default_report: dict[str, Any] | None = None
_default_lock = threading.Lock()


def isolation_report(*, refresh: bool = False) -> dict[str, Any]:
    """The default runner's report, for synchronous callers (the health endpoint). Checked once."""
    global _default_report
    with _default_lock:
        if _default_report is None or refresh:
            from builder.engine.sandbox.runner import SandboxCodeRunner

            result: list[dict[str, Any]] = []
            runner = SandboxCodeRunner()
            # A thread of its own: the caller may already be inside an event loop.
            worker = threading.Thread(target=lambda: result.append(asyncio.run(runner.isolation_report(refresh=True))))
            worker.start()
            worker.join()
            runner.close()
            _default_report = result[0] if result else {"available": False, "reason": "the check did not finish"}
        return _default_report
