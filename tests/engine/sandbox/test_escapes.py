"""Hostile code: every attempt ends as a clear node error (or a result showing it failed), fast,
while the test process (the server) carries on."""

from __future__ import annotations

import glob
import os
import site
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.engine.runtime.contract import NodeError
from builder.engine.sandbox import SandboxCodeRunner, SandboxLimits

PROJECT_ROOT = Path(__file__).resolve().parents[3]


async def failure(runner: SandboxCodeRunner, code: str, *, timeout_s: float = 10, **inputs: object) -> NodeError:
    with pytest.raises(NodeError) as caught:
        await runner.run(code, inputs, timeout_s=timeout_s)
    return caught.value


@pytest.fixture
def listening_server() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


async def test_cannot_connect_to_a_local_server(runner: SandboxCodeRunner, listening_server: socket.socket) -> None:
    code = """
import socket

def main(port):
    socket.create_connection(("127.0.0.1", port), timeout=2)
    return {"connected": True}
"""
    error = await failure(runner, code, port=listening_server.getsockname()[1])

    assert error.code == "code_error"
    assert "PermissionError" in error.message
    with pytest.raises(BlockingIOError):
        listening_server.accept()  # nobody knocked


async def test_raw_socket_system_call_is_refused(runner: SandboxCodeRunner) -> None:
    # Bypassing Python's socket module: the seccomp filter answers, not just the empty namespace.
    code = """
import ctypes

def main():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
    return {"fd": fd, "errno": ctypes.get_errno()}
"""
    assert await runner.run(code, {}, timeout_s=10) == {"fd": -1, "errno": 1}  # EPERM


async def test_host_files_are_not_there(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main():\n    return {'passwd': open('/etc/passwd').read()}")

    assert error.code == "code_error"
    assert error.message == "FileNotFoundError: [Errno 2] No such file or directory: '/etc/passwd'"


async def test_project_files_are_not_there(runner: SandboxCodeRunner) -> None:
    settings_file = PROJECT_ROOT / "builder" / "config" / "settings.py"
    assert settings_file.is_file()
    code = """
import os

def main(settings_file, project):
    visible = os.path.exists(project) or os.path.exists("/proc/self/environ")
    return {"visible": visible, "settings": open(settings_file).read()}
"""
    error = await failure(runner, code, settings_file=str(settings_file), project=str(PROJECT_ROOT))

    assert error.code == "code_error"
    assert "FileNotFoundError" in error.message
    assert "settings.py" in error.message


async def test_project_packages_cannot_be_imported(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "import django\n\ndef main():\n    return {}")

    assert error.code == "code_error"
    assert error.message == "ModuleNotFoundError: No module named 'django'"


def host_package_dirs() -> list[str]:
    """Every place this machine keeps Python packages that the server knows of or can guess."""
    guesses = [*site.getsitepackages([sys.prefix, sys.base_prefix]), *sys.path]
    for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages", "/usr/lib*/python3*/*"):
        guesses += glob.glob(pattern)
    return sorted({path for path in guesses if path and os.path.isdir(path)})


# Installed for the server (the virtualenv) or for the base interpreter (pip, numpy…): none of them
# may be imported by the code, whatever it appends to sys.path.
THIRD_PARTY = ("django", "numpy", "yaml", "pydantic", "requests", "pyseccomp", "pip", "setuptools", "cryptography")


async def test_no_installed_package_can_be_imported_from_any_path(runner: SandboxCodeRunner) -> None:
    code = """
import importlib, os, sys

def package_dirs(packages):
    # Everything visible inside the sandbox that looks like a place packages live.
    found = []
    for directory, subdirectories, _ in os.walk("/"):
        if directory.startswith(("/dev", "/tmp")):
            continue
        name = os.path.basename(directory)
        if name.endswith("-packages") or "third_party" in name or set(packages) & set(subdirectories):
            found.append(directory)
    return found

def main(host_dirs, packages):
    searched = sorted(set(host_dirs) | set(package_dirs(packages)))
    sys.path.extend(searched)
    outcome = {}
    for name in packages:
        try:
            importlib.import_module(name)
            outcome[name] = "imported"
        except ImportError:
            outcome[name] = "ImportError"
    return {"outcome": outcome, "searched": searched}
"""
    host_dirs = host_package_dirs()
    assert any(os.path.isdir(os.path.join(directory, "django")) for directory in host_dirs)  # there to be found

    result = await runner.run(code, {"host_dirs": host_dirs, "packages": list(THIRD_PARTY)}, timeout_s=30)

    assert result["outcome"] == dict.fromkeys(THIRD_PARTY, "ImportError"), result["searched"]


async def test_environment_secrets_do_not_reach_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "fake-secret-for-the-sandbox-test")
    monkeypatch.setenv("AGENTLOOM_FAKE_API_KEY", "sk-fake-0123456789")
    runner = SandboxCodeRunner(SandboxLimits(warm=0))  # started after the variables were set
    code = """
import os

def main():
    return {"environ": dict(os.environ), "proc": os.path.exists("/proc")}
"""
    try:
        result = await runner.run(code, {}, timeout_s=10)
    finally:
        runner.close()

    assert result == {"environ": {}, "proc": False}


async def test_fork_bomb_is_refused(runner: SandboxCodeRunner) -> None:
    code = """
import os

def main():
    while True:
        os.fork()
"""
    started = time.monotonic()
    error = await failure(runner, code)

    assert error.code == "code_error"
    assert error.message == "PermissionError: [Errno 1] Operation not permitted"
    assert time.monotonic() - started < 5


async def test_raw_fork_system_call_is_refused(runner: SandboxCodeRunner) -> None:
    code = """
import ctypes

def main():
    libc = ctypes.CDLL(None, use_errno=True)
    return {"pid": libc.fork(), "errno": ctypes.get_errno()}
"""
    assert await runner.run(code, {}, timeout_s=10) == {"pid": -1, "errno": 1}


async def test_thread_bomb_is_limited(runner: SandboxCodeRunner) -> None:
    code = """
import threading, time

def main():
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
"""
    error = await failure(runner, code)

    assert error.code in {"code_error", "code_memory"}
    assert "thread" in error.message or error.code == "code_memory"


async def test_allocating_10_gb_fails_with_a_memory_error(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main():\n    return {'size': len(bytearray(10 * 1024**3))}")

    assert error.code == "code_memory"
    assert error.message == "The code used more than 256 MB of memory."


async def test_growing_memory_step_by_step_also_stops(runner: SandboxCodeRunner) -> None:
    code = """
def main():
    hoard = []
    while True:
        hoard.append(bytearray(16 * 1024 * 1024))
"""
    assert (await failure(runner, code)).code == "code_memory"


async def test_infinite_loop_times_out(runner: SandboxCodeRunner) -> None:
    started = time.monotonic()
    error = await failure(runner, "def main():\n    while True:\n        pass", timeout_s=1)

    assert error.code == "code_timeout"
    assert error.message == "The code did not finish within 1 s."
    assert time.monotonic() - started < 3


async def test_sleeping_forever_times_out(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "import time\n\ndef main():\n    time.sleep(3600)", timeout_s=0.5)

    assert error.code == "code_timeout"


@pytest.mark.parametrize(
    "attack",
    ["ctypes.string_at(0)", "ctypes.memset(8, 0, 4096)", "ctypes.cast(1, ctypes.POINTER(ctypes.c_int))[0] = 1"],
)
async def test_writing_to_bad_memory_is_a_reported_crash(runner: SandboxCodeRunner, attack: str) -> None:
    started = time.monotonic()
    error = await failure(runner, f"import ctypes\n\ndef main():\n    {attack}\n    return {{}}")

    assert error.code == "code_error"
    assert error.message.startswith("The Python process crashed (SIGSEGV)")
    assert time.monotonic() - started < 5


async def test_printing_100_mb_is_stopped(runner: SandboxCodeRunner) -> None:
    started = time.monotonic()
    error = await failure(runner, "def main():\n    print('x' * 100_000_000)\n    return {}")

    assert error.code == "code_output_too_large"
    assert error.message == "The code printed more than 8388608 bytes."
    assert len(error.details["stdout"]) <= 4000
    assert time.monotonic() - started < 5


async def test_printing_a_lot_keeps_the_beginning(runner: SandboxCodeRunner) -> None:
    code = "def main():\n    for i in range(20_000):\n        print(f'line {i:05}')\n    return {'done': True}"
    run = await runner.execute(code, {}, timeout_s=10)

    assert run.result == {"done": True}
    assert run.stdout.startswith("line 00000\nline 00001\n")
    assert len(run.stdout) == 64 * 1024
    assert run.stdout_truncated


@pytest.mark.parametrize(
    "attack",
    [
        "subprocess.run(['/bin/sh', '-c', 'echo escaped'])",
        "os.execv(sys.executable, [sys.executable, '-c', 'print(1)'])",
    ],
)
async def test_running_programs_is_refused(runner: SandboxCodeRunner, attack: str) -> None:
    code = f"import os, subprocess, sys\n\ndef main():\n    {attack}\n    return {{'ran': True}}"
    error = await failure(runner, code)

    assert error.code == "code_error"
    assert "PermissionError" in error.message or "FileNotFoundError" in error.message


async def test_os_system_returns_failure_rather_than_running(runner: SandboxCodeRunner) -> None:
    # os.system reports failure as a status instead of raising: the shell never ran.
    result = await runner.run("import os\n\ndef main():\n    return {'status': os.system('true')}", {}, timeout_s=10)

    assert result["status"] != 0


async def test_writing_a_big_file_fails(runner: SandboxCodeRunner) -> None:
    code = """
def main():
    with open("/tmp/big", "wb") as handle:
        for _ in range(100):
            handle.write(b"x" * 1024 * 1024)
    return {"written": True}
"""
    error = await failure(runner, code)

    assert error.code == "code_error"
    assert error.message == "OSError: [Errno 27] File too large"


async def test_filling_the_scratch_space_fails(runner: SandboxCodeRunner) -> None:
    code = """
def main():
    for index in range(10):
        with open(f"/tmp/part{index}", "wb") as handle:
            handle.write(b"x" * 7 * 1024 * 1024)
    return {"written": True}
"""
    error = await failure(runner, code)

    assert error.code == "code_error"
    assert "No space left on device" in error.message


async def test_the_root_is_read_only_and_nearly_empty(runner: SandboxCodeRunner) -> None:
    code = """
import os

def main():
    try:
        open("/planted", "w")
    except OSError as error:
        refused = error.strerror
    return {"top": sorted(os.listdir("/")), "dev": sorted(os.listdir("/dev")), "refused": refused}
"""
    result = await runner.run(code, {}, timeout_s=10)

    assert set(result["top"]) <= {"dev", "tmp", "usr", "lib", "lib64", "lib32", "root", "opt"}
    assert "etc" not in result["top"] and "proc" not in result["top"] and "work" not in result["top"]
    assert result["dev"] == ["null", "random", "urandom", "zero"]
    assert result["refused"] == "Read-only file system"


async def test_code_runs_unprivileged_and_alone(runner: SandboxCodeRunner) -> None:
    code = """
import os, signal

def main():
    try:
        os.kill(-1, signal.SIGKILL)  # every process it may signal, but itself
        alone = False
    except ProcessLookupError:
        alone = True
    return {"uid": os.getuid(), "pid": os.getpid(), "groups": os.getgroups(), "alone": alone}
"""
    result = await runner.run(code, {}, timeout_s=10)

    assert result["pid"] == 1
    assert result["alone"]
    if (await runner.isolation_report())["mode"] == "root":
        assert result["uid"] >= 0x10000000
        assert result["groups"] == []


async def test_the_server_survives_all_of_it(runner: SandboxCodeRunner) -> None:
    # After everything above (same session runner), a normal run still works.
    assert await runner.run("def main(x):\n    return {'y': x * 2}", {"x": 21}, timeout_s=10) == {"y": 42}


@pytest.fixture(scope="module")
def userns_runner() -> Iterator[SandboxCodeRunner]:
    sandbox = SandboxCodeRunner(SandboxLimits(warm=1), mode="user_namespace")
    yield sandbox
    sandbox.close()


class TestInAUserNamespace:
    """The set-up used when the server is not root (forced here, as the suite may run as root)."""

    async def test_isolated(self, userns_runner: SandboxCodeRunner) -> None:
        report = await userns_runner.isolation_report()

        assert report["available"], report["reason"]
        assert report["namespaces"][0] == "user"

    async def test_files_network_and_processes_are_shut(
        self, userns_runner: SandboxCodeRunner, listening_server: socket.socket
    ) -> None:
        code = """
import os, socket

def attempt(action):
    try:
        action()
    except OSError as error:
        return error.strerror
    return "done"

def main(port, settings_file):
    return {
        "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=2)),
        "fork": attempt(os.fork),
        "passwd": attempt(lambda: open("/etc/passwd")),
        "settings": attempt(lambda: open(settings_file)),
        "mount": attempt(lambda: os.chroot("/tmp")),
    }
"""
        inputs = {"port": listening_server.getsockname()[1], "settings_file": str(PROJECT_ROOT / "pyproject.toml")}
        result = await userns_runner.run(code, inputs, timeout_s=10)

        assert result == {
            "connect": "Operation not permitted",
            "fork": "Operation not permitted",
            "passwd": "No such file or directory",
            "settings": "No such file or directory",
            "mount": "Operation not permitted",
        }

    async def test_limits_apply(self, userns_runner: SandboxCodeRunner) -> None:
        memory = await failure(userns_runner, "def main():\n    return {'n': len(bytearray(10 * 1024**3))}")
        loop = await failure(userns_runner, "def main():\n    while True:\n        pass", timeout_s=1)

        assert (memory.code, loop.code) == ("code_memory", "code_timeout")
