"""One sandbox process seen from the server: started, fed, read and killed without blocking the loop.

Processes are started with ``subprocess.Popen`` and watched through non-blocking pipes and a pidfd,
not with asyncio's subprocess API, so a sandbox started ahead of time (the warm pool) does not
belong to one event loop: Django, Celery and the tests each run their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_CHUNK = 64 * 1024


@dataclass
class Captured:
    """What was read from a pipe: its first bytes, and whether it was read to the end."""

    data: bytes = b""
    complete: bool = True


class SandboxProcess:
    """A started ``child.py``: its stdin, its combined stdout/stderr, its result pipe, its pidfd."""

    def __init__(self, popen: subprocess.Popen[bytes], stdin: int, stdout: int, result: int, root: str) -> None:
        self.popen = popen
        self.stdin = stdin
        self.stdout = stdout
        self.result = result
        self.root = root
        self.killed = False
        self._pidfd: int | None
        try:
            self._pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):  # Linux < 5.3: poll instead
            self._pidfd = None

    @classmethod
    def start(cls, argv: Sequence[str], config_for: Callable[[str], str]) -> SandboxProcess:
        """Start ``argv + [result_fd, config_for(root)]`` in its own session, inheriting nothing else.

        ``root`` is a fresh empty directory: the sandbox mounts its own root over it (in its own mount
        namespace, so the directory stays empty here) and is started in it.
        """
        root = tempfile.mkdtemp(prefix="agentloom-sandbox-")
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            popen = subprocess.Popen(
                [*argv, str(result_write), config_for(root)],
                stdin=stdin_read,
                stdout=stdout_write,
                stderr=stdout_write,
                pass_fds=(result_write,),
                close_fds=True,
                env={},
                cwd=root,
                start_new_session=True,
            )
        except BaseException:
            for fd in (stdin_write, stdout_read, result_read):
                os.close(fd)
            os.rmdir(root)
            raise
        finally:
            for fd in (stdin_read, stdout_write, result_write):
                os.close(fd)
        for fd in (stdin_write, stdout_read, result_read):
            os.set_blocking(fd, False)
        return cls(popen, stdin_write, stdout_read, result_read, root)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole session (the supervisor and the sandboxed process), once, before reaping."""
        if self.popen.returncode is None:
            self.killed = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)

    async def wait(self) -> int:
        if self._pidfd is not None:
            await _ready(self._pidfd)
        while (code := self.popen.poll()) is None:
            await asyncio.sleep(0.005)
        return code

    async def send(self, data: bytes) -> bool:
        """Write the request and close stdin; False if the sandbox had gone before reading any of it."""
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[os.write(self.stdin, view) :]
                except BlockingIOError:
                    await _ready(self.stdin, write=True)
        except (BrokenPipeError, ConnectionResetError):
            return len(view) < len(data)
        finally:
            self._close("stdin")
        return True

    async def close(self) -> None:
        """Kill if still running, reap, and release the pipes and the mount point."""
        self.kill()
        await self.wait()
        self._release()

    def close_now(self) -> None:
        """``close`` without an event loop (shutting a pool down): after SIGKILL the wait is short."""
        self.kill()
        self.popen.wait()
        self._release()

    def abandon(self) -> None:
        """Close this process's copies of the pipes only (after a fork: the process is not ours)."""
        self._close("stdin")
        self._close("stdout")
        self._close("result")
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _release(self) -> None:
        self.abandon()
        with contextlib.suppress(OSError):
            os.rmdir(self.root)

    def _close(self, pipe: str) -> None:
        fd = getattr(self, pipe)
        if fd >= 0:
            os.close(fd)
            setattr(self, pipe, -1)


async def read_some(fd: int) -> bytes:
    """What is there to read (at least a byte), or b"" at end of file."""
    while True:
        try:
            return os.read(fd, _CHUNK)
        except BlockingIOError:
            await _ready(fd)


async def read_capped(fd: int, *, keep: int, give_up_after: int, already: bytes = b"") -> Captured:
    """Read to end of file keeping the first ``keep`` bytes, dropping the rest, and stopping after
    ``give_up_after`` bytes in all (``complete`` is then False and the writer should be stopped).
    ``already`` is what the caller read before, counted as read here."""
    chunks: list[bytes] = []
    kept = total = 0
    pending = [already] if already else []
    while True:
        chunk = pending.pop() if pending else await read_some(fd)
        if not chunk:
            return Captured(b"".join(chunks))
        if kept < keep:
            chunks.append(chunk[: keep - kept])
            kept += len(chunks[-1])
        total += len(chunk)
        if total > give_up_after:
            return Captured(b"".join(chunks), complete=False)


async def _ready(fd: int, *, write: bool = False) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)
