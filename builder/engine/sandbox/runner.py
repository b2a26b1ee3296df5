"""``SandboxCodeRunner``: the engine's ``CodeRunner``, running user Python in ``child.py``'s sandbox.

One run = one sandbox process, used once. Start-up (interpreter, namespaces, the new root) costs
tens of milliseconds, so a few sandboxes are started ahead and wait for their request (``warm``).
The server only waits on pipes: a run never blocks the event loop, and whatever the code does
(loops, allocations, crashes, floods of output) it ends as a ``NodeError`` within its timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from builder.engine.i18n import gettext_noop
from builder.engine.runtime.contract import NodeError, node_error
from builder.engine.sandbox import child
from builder.engine.sandbox.process import SandboxProcess, read_capped, read_some

CHILD_SCRIPT = Path(child.__file__)
IsolationMode = Literal["auto", "user_namespace"]
# How long a sandbox may take to set itself up before the code's own timeout starts.
_START_TIMEOUT_S = 10.0
# Room for the result message's own keys around the result itself.
_MESSAGE_OVERHEAD = 64 * 1024
_UNREADABLE = gettext_noop("The code's result could not be read.")


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits. ``max_concurrent`` and ``warm`` are per runner (per event loop for the former)."""

    memory_mb: int = 256
    max_timeout_s: float = 60.0
    # The result of main() as JSON. Of what the code prints, the first stdout_max_bytes are kept;
    # past stdout_flood_bytes the run is stopped (reading a flood costs the server's loop).
    result_max_bytes: int = 1024 * 1024
    stdout_max_bytes: int = 64 * 1024
    stdout_flood_bytes: int = 8 * 1024 * 1024
    inputs_max_bytes: int = 8 * 1024 * 1024
    file_size_mb: int = 8
    tmp_size_mb: int = 16
    max_threads: int = 32
    max_open_files: int = 64
    traceback_max_chars: int = 4000
    max_concurrent: int = 16
    warm: int = 2


@dataclass
class SandboxRun:
    """A successful run: main()'s result plus what the code printed (for traces and tests)."""

    result: dict[str, Any]
    stdout: str
    stdout_truncated: bool
    duration_s: float


@dataclass
class _Outcome:
    returncode: int | None = None
    start_timed_out: bool = False
    timed_out: bool = False
    result_too_large: bool = False
    stdout_flooded: bool = False
    message: bytes = b""
    stdout: bytes = b""
    stdout_truncated: bool = False


@dataclass(eq=False)
class _Pool:
    """Sandboxes started ahead, shared by every event loop of the process (not by forked children)."""

    size: int
    idle: list[SandboxProcess] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def take(self) -> SandboxProcess | None:
        with self.lock:
            while self.idle:
                process = self.idle.pop(0)
                if process.alive():
                    return process
                process.close_now()
        return None

    def put(self, process: SandboxProcess) -> None:
        with self.lock:
            if not self.closed and len(self.idle) < self.size:
                self.idle.append(process)
                return
        process.close_now()  # closed, or filled meanwhile by another starter thread

    def missing(self) -> int:
        with self.lock:
            return 0 if self.closed else max(0, self.size - len(self.idle))

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for process in idle:
            process.close_now()

    def forget(self) -> None:
        """In a forked child (a Celery worker…): the sandboxes are the parent's; drop our copies."""
        self.lock = threading.Lock()
        idle, self.idle = self.idle, []
        for process in idle:
            process.abandon()


_POOLS: weakref.WeakSet[_Pool] = weakref.WeakSet()


def _forget_pools() -> None:
    for pool in list(_POOLS):
        pool.forget()


os.register_at_fork(after_in_child=_forget_pools)


class SandboxCodeRunner:
    """Runs ``def main(**inputs) -> dict`` in an isolated, limited process (see ``child.py``).

    ``mode="user_namespace"`` forces the set-up used when the server is not root (tests run both
    on a root machine). Refuses to run anything when the isolation check of this machine failed.
    """

    def __init__(
        self, limits: SandboxLimits | None = None, *, mode: IsolationMode = "auto", python: str | None = None
    ) -> None:
        self.limits = limits or SandboxLimits()
        self.mode = mode
        # The base interpreter: the child runs with -I -S, so the virtualenv is never on its path.
        self.python = python or os.path.realpath(sys.executable)
        self._pool = _Pool(self.limits.warm)
        _POOLS.add(self._pool)
        self._report: dict[str, Any] | None = None
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        weakref.finalize(self, self._pool.close)

    # --- the CodeRunner protocol -----------------------------------------------------------------

    async def run(self, code: str, inputs: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        return (await self.execute(code, inputs, timeout_s=timeout_s)).result

    async def execute(self, code: str, inputs: Mapping[str, Any], *, timeout_s: float) -> SandboxRun:
        """``run`` plus what the code printed. Raises ``NodeError`` (``code_*``, ``sandbox_unavailable``)."""
        report = await self.isolation_report()
        if not report["available"]:
            template = gettext_noop("Code cannot run safely on this server: %(reason)s")
            raise node_error("sandbox_unavailable", template, reason=str(report["reason"]))
        return await self._execute(code, inputs, timeout_s, warm=True)

    def close(self) -> None:
        """Stop the sandboxes started ahead and start no more (they also stop with the server process)."""
        self._pool.close()

    # --- isolation check -------------------------------------------------------------------------

    async def isolation_report(self, *, refresh: bool = False) -> dict[str, Any]:
        """Whether (and how) this machine isolates code with this runner's set-up; checked once."""
        if refresh or self._report is None:
            from builder.engine.sandbox.probe import probe

            self._report = await probe(self)
        return self._report

    # --- one run ---------------------------------------------------------------------------------

    async def _execute(self, code: str, inputs: Mapping[str, Any], timeout_s: float, *, warm: bool) -> SandboxRun:
        """One run; ``warm`` uses and refills the pool (not for the probe, whose thread ends at once)."""
        timeout_s = min(max(timeout_s, 0.1), self.limits.max_timeout_s)
        request = self._request(code, inputs, timeout_s)
        async with self._semaphore():
            started = time.monotonic()
            outcome = None
            if warm and (process := self._pool.take()) is not None:
                outcome = await self._run_in(process, request, timeout_s)
            if _interrupted(outcome):
                # No warm sandbox, or it was killed from outside while being handed the code.
                # Running the code again is safe: it cannot have had any effect.
                outcome = await self._run_in(await self._started(), request, timeout_s)
            if outcome is None:
                template = gettext_noop("The code sandbox ended before it was given the code.")
                raise node_error("sandbox_unavailable", template)
            duration = time.monotonic() - started
        if warm:
            _starter().submit(self._top_up_pool)
        return _interpret(outcome, self.limits, timeout_s, duration)

    def _request(self, code: str, inputs: Mapping[str, Any], timeout_s: float) -> bytes:
        try:
            encoded = json.dumps(
                {"code": code, "inputs": dict(inputs), "cpu_time_s": math.ceil(timeout_s) + 1},
                allow_nan=False,
                default=str,
            ).encode()
        except (TypeError, ValueError) as error:
            raise node_error(
                "code_bad_input", gettext_noop("The inputs are not JSON: %(error)s"), error=str(error)
            ) from error
        if len(encoded) > self.limits.inputs_max_bytes + len(code.encode()):
            template = gettext_noop("The inputs are larger than %(limit)s bytes.")
            raise node_error("code_input_too_large", template, limit=self.limits.inputs_max_bytes)
        return encoded

    async def _run_in(self, process: SandboxProcess, request: bytes, timeout_s: float) -> _Outcome | None:
        try:
            return await self._exchange(process, request, timeout_s)
        finally:
            await process.close()

    async def _exchange(self, process: SandboxProcess, request: bytes, timeout_s: float) -> _Outcome | None:
        """Send the request, read the result and the output, wait for the end; kill on any excess.

        None when the sandbox was gone before the request reached it (nothing of the code ran).
        """
        outcome = _Outcome()
        limits = self.limits
        result_cap = limits.result_max_bytes + _MESSAGE_OVERHEAD

        async def watch_stdout() -> None:
            captured = await read_capped(
                process.stdout, keep=limits.stdout_max_bytes, give_up_after=limits.stdout_flood_bytes
            )
            outcome.stdout = captured.data
            outcome.stdout_truncated = len(captured.data) >= limits.stdout_max_bytes
            if not captured.complete:
                outcome.stdout_flooded = True
                process.kill()

        stdout = asyncio.ensure_future(watch_stdout())
        try:
            # Set-up has an allowance of its own: a busy server must not eat into the code's time.
            try:
                async with asyncio.timeout(_START_TIMEOUT_S):
                    if not await process.send(request):
                        return None
                    first = await read_some(process.result)
            except TimeoutError:
                outcome.start_timed_out = True
                return outcome
            ready = first.startswith(child.READY)  # else: a set-up failure, or a crash during set-up
            try:
                async with asyncio.timeout(timeout_s if ready else _START_TIMEOUT_S):
                    already = first.removeprefix(child.READY)
                    message = await read_capped(
                        process.result, keep=result_cap, give_up_after=result_cap, already=already
                    )
                    if not message.complete:
                        outcome.result_too_large = True
                        process.kill()
                    outcome.message = message.data
                    outcome.returncode = await process.wait()
                    await stdout
            except TimeoutError:
                outcome.timed_out = not (outcome.stdout_flooded or outcome.result_too_large)
        finally:
            process.kill()
            stdout.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stdout
        return outcome

    # --- processes -------------------------------------------------------------------------------

    async def _started(self) -> SandboxProcess:
        """A new sandbox, started on the starter thread (see ``_starter``)."""
        future = _starter().submit(self._start)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_if_started)
            raise
        except OSError as error:  # out of processes, files or memory: the server is overloaded
            template = gettext_noop("Could not start the code sandbox: %(error)s")
            raise node_error("sandbox_unavailable", template, retryable=True, error=str(error)) from error

    def _start(self) -> SandboxProcess:
        argv = [self.python, "-I", "-S", "-B", str(CHILD_SCRIPT)]
        return SandboxProcess.start(argv, self._config)

    def _config(self, root: str) -> str:
        limits = self.limits
        return json.dumps(
            {
                "parent_pid": os.getpid(),
                "root": root,
                "mode": self.mode,
                "needs": _interpreter_needs(self.python),
                "pyseccomp_dir": _pyseccomp_dir(),
                "memory_mb": limits.memory_mb,
                "file_size_mb": limits.file_size_mb,
                "tmp_size_mb": limits.tmp_size_mb,
                "max_threads": limits.max_threads,
                "max_open_files": limits.max_open_files,
                "traceback_max_chars": limits.traceback_max_chars,
                "result_max_bytes": limits.result_max_bytes,
            }
        )

    def _top_up_pool(self) -> None:
        for _ in range(self._pool.missing()):
            try:
                self._pool.put(self._start())
            except OSError:
                return  # out of processes or files: the next run starts its own

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.limits.max_concurrent)
        return semaphore


_starter_executor: concurrent.futures.ThreadPoolExecutor | None = None
_starter_pid = 0
_starter_lock = threading.Lock()


def _starter() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that start sandboxes, for as long as the process lives.

    ``Popen`` returns only once the new process has exec'd the interpreter, which under load takes
    milliseconds per process: on the event loop, a burst of runs would stall it. And a sandbox dies
    with the thread that started it (parent-death signal), so that thread must not come and go.
    A forked child (a Celery worker) gets threads of its own.
    """
    global _starter_executor, _starter_pid
    with _starter_lock:
        if _starter_executor is None or _starter_pid != os.getpid():
            _starter_executor = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="code-sandbox-start")
            _starter_pid = os.getpid()
        return _starter_executor


def _close_if_started(future: concurrent.futures.Future[SandboxProcess]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close_now()


_needs: dict[str, dict[str, Any]] = {}
_needs_lock = threading.Lock()


def _interpreter_needs(python: str) -> dict[str, Any]:
    """What ``python`` runs from, the only files a sandbox shows (``child.interpreter_needs``).

    Asked once per interpreter and server process: it loads every extension module of the
    standard library, ~100 ms that no sandbox start should pay.
    """
    with _needs_lock:
        if python not in _needs:
            completed = subprocess.run(
                [python, "-I", "-S", "-B", str(CHILD_SCRIPT), "--needs"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env={},
                timeout=60,
                check=False,
            )
            if completed.returncode != 0:
                reason = completed.stderr.decode(errors="replace").strip()[-500:]
                template = gettext_noop("The code sandbox could not be set up: %(reason)s")
                raise node_error("sandbox_unavailable", template, reason=reason)
            _needs[python] = json.loads(completed.stdout)
        return _needs[python]


def _pyseccomp_dir() -> str:
    spec = importlib.util.find_spec("pyseccomp")
    if spec is None or spec.origin is None:
        raise node_error("sandbox_unavailable", gettext_noop("The pyseccomp package is not installed."))
    return str(Path(spec.origin).parent)


# --- outcome -> result or NodeError ------------------------------------------------------------


def _interrupted(outcome: _Outcome | None) -> bool:
    """Nothing came back because the sandbox itself was killed (the supervisor died of a signal)."""
    if outcome is None:
        return True
    killed_by_us = outcome.start_timed_out or outcome.timed_out or outcome.stdout_flooded or outcome.result_too_large
    killed = outcome.returncode is not None and outcome.returncode < 0
    return killed and not killed_by_us and not outcome.message


_STDOUT_IN_ERRORS = 4000
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


def _interpret(outcome: _Outcome, limits: SandboxLimits, timeout_s: float, duration_s: float) -> SandboxRun:
    stdout = outcome.stdout.decode("utf-8", errors="replace")
    # The end of the output is what explains a failure; the trace keeps it short.
    details: dict[str, Any] = {"stdout": stdout[-_STDOUT_IN_ERRORS:]} if stdout else {}
    if outcome.start_timed_out:
        template = gettext_noop("The code sandbox did not start within %(seconds)s s: the server is overloaded.")
        raise node_error("sandbox_unavailable", template, retryable=True, seconds=f"{_START_TIMEOUT_S:g}")
    if outcome.timed_out:
        template = gettext_noop("The code did not finish within %(seconds)s s.")
        raise node_error("code_timeout", template, details=details, seconds=f"{timeout_s:g}")
    if outcome.result_too_large:
        limit = limits.result_max_bytes
        raise node_error("code_output_too_large", child.RESULT_TOO_LARGE, details=details, limit=limit)
    if outcome.stdout_flooded:
        template = gettext_noop("The code printed more than %(limit)s bytes.")
        raise node_error("code_output_too_large", template, details=details, limit=limits.stdout_flood_bytes)
    if outcome.message:
        return _from_message(outcome, limits, details, stdout, duration_s)
    raise _from_exit(outcome.returncode, timeout_s, details)


def _from_message(
    outcome: _Outcome, limits: SandboxLimits, details: dict[str, Any], stdout: str, duration_s: float
) -> SandboxRun:
    try:
        message = json.loads(outcome.message)
        status, kind = message["status"], message.get("kind")
        text = str(message.get("message", ""))[:2000]
    except (ValueError, TypeError, KeyError) as error:
        # Only the user's code can have written something else to the result pipe.
        raise node_error("code_bad_result", _UNREADABLE, details=details) from error
    if status == child.STATUS_OK:
        try:
            result = json.loads(message["result"])
        except (ValueError, TypeError, KeyError) as error:
            raise node_error("code_bad_result", _UNREADABLE, details=details) from error
        if not isinstance(result, dict):
            raise node_error("code_bad_result", gettext_noop("main() must return a dict."), details=details)
        return SandboxRun(result, stdout, outcome.stdout_truncated, duration_s)
    if status == child.STATUS_SETUP_FAILED:
        template = gettext_noop("The code sandbox could not be set up: %(reason)s")
        raise node_error("sandbox_unavailable", template, reason=text)
    if kind == "memory":
        template = gettext_noop("The code used more than %(limit)s MB of memory.")
        raise node_error("code_memory", template, details=details, limit=limits.memory_mb)
    code = {"bad_result": "code_bad_result", "output_too_large": "code_output_too_large"}.get(kind, "code_error")
    traceback = message.get("traceback")
    if isinstance(traceback, str):
        details["traceback"] = traceback[: limits.traceback_max_chars + 200]
    if isinstance(message.get("type"), str):
        # The code's own exception: its text is the user's, nothing to translate.
        details["type"] = message["type"]
        raise NodeError(code, f"{message['type']}: {text}" if text else message["type"], details=details)
    template, params = message.get("template"), message.get("params")
    if template in child.TEMPLATES and isinstance(params, dict):
        # (Only user code could have sent params that do not fit: then the text is all there is.)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            raise node_error(code, template, details=details, **params)
    if not text:
        raise node_error(code, gettext_noop("The code failed."), details=details)
    raise NodeError(code, text, details=details)


def _from_exit(returncode: int | None, timeout_s: float, details: dict[str, Any]) -> NodeError:
    if returncode is None or returncode < 0:
        return node_error("code_error", gettext_noop("The code sandbox was stopped."), details=details)
    if returncode > child.EXIT_SIGNAL_BASE:
        signum = returncode - child.EXIT_SIGNAL_BASE
        if signum == signal.SIGKILL:
            # Nobody else kills it: the kernel did, at the CPU time limit (RLIMIT_CPU's hard limit).
            template = gettext_noop("The code used more than %(seconds)s s of CPU time.")
            return node_error("code_timeout", template, details=details, seconds=math.ceil(timeout_s) + 1)
        if signum == signal.SIGSYS:
            template = gettext_noop("The code made a system call the sandbox forbids.")
            return node_error("code_error", template, details=details)
        if signum in _CRASH_SIGNALS:
            template = gettext_noop(
                "The Python process crashed (%(signal)s), e.g. ctypes touched memory it does not own."
            )
            return node_error("code_error", template, details=details, signal=signal.Signals(signum).name)
    template = gettext_noop("The code ended without returning (exit status %(status)s).")
    return node_error("code_error", template, details=details, status=returncode)
