"""The code runner on ordinary code: inputs in, outputs out, errors the user can act on; many runs
at once without the server stalling; cancellation; refusing to run when isolation is missing."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from builder.engine.runtime.contract import NodeError
from builder.engine.sandbox import SandboxCodeRunner, SandboxLimits, isolation_report

NOT_JSON = "main() returned a value that is not JSON: "


async def failure(runner: SandboxCodeRunner, code: str, *, timeout_s: float = 10, **inputs: object) -> NodeError:
    with pytest.raises(NodeError) as caught:
        await runner.run(code, inputs, timeout_s=timeout_s)
    return caught.value


def test_this_machine_isolates_code() -> None:
    report = isolation_report()

    assert report["available"], report["reason"]
    assert {"mount", "network", "pid"} <= set(report["namespaces"])
    assert all(report["checks"][name] is True for name in ("network", "fork", "exec", "project_files", "environment"))


async def test_inputs_in_outputs_out(runner: SandboxCodeRunner) -> None:
    code = """
import json, math, re, datetime, statistics

def main(text, numbers, options):
    return {
        "words": re.findall(r"\\w+", text),
        "mean": statistics.mean(numbers),
        "root": math.sqrt(numbers[-1]),
        "year": datetime.date(2024, 5, 1).year,
        "options": options,
        "echo": json.loads(json.dumps(text)),
    }
"""
    inputs = {"text": "你好 world", "numbers": [1, 2, 9], "options": {"deep": [None, True, 1.5]}}

    result = await runner.run(code, inputs, timeout_s=10)

    assert result == {
        "words": ["你好", "world"],
        "mean": 4,
        "root": 3.0,
        "year": 2024,
        "options": {"deep": [None, True, 1.5]},
        "echo": "你好 world",
    }


async def test_print_output_is_kept_apart_from_the_result(runner: SandboxCodeRunner) -> None:
    code = """
import sys

def main():
    print('{"status": "ok"}')
    print("warn", file=sys.stderr)
    return {"a": 1}
"""
    run = await runner.execute(code, {}, timeout_s=10)

    assert run.result == {"a": 1}
    assert run.stdout == '{"status": "ok"}\nwarn\n'
    assert not run.stdout_truncated


async def test_threads_work(runner: SandboxCodeRunner) -> None:
    code = """
from concurrent.futures import ThreadPoolExecutor

def main(items):
    with ThreadPoolExecutor(4) as pool:
        return {"squares": list(pool.map(lambda n: n * n, items))}
"""
    assert await runner.run(code, {"items": [1, 2, 3]}, timeout_s=10) == {"squares": [1, 4, 9]}


async def test_an_exception_shows_only_the_users_traceback(runner: SandboxCodeRunner) -> None:
    code = """
def parse(value):
    return int(value)

def main(value):
    return {"n": parse(value)}
"""
    error = await failure(runner, code, value="twelve")

    assert error.code == "code_error"
    assert error.message == "ValueError: invalid literal for int() with base 10: 'twelve'"
    assert error.details["type"] == "ValueError"
    assert error.details["traceback"] == (
        "Traceback (most recent call last):\n"
        '  File "<code>", line 6, in main\n'
        '    return {"n": parse(value)}\n'
        "                 ^^^^^^^^^^^^\n"
        '  File "<code>", line 3, in parse\n'
        "    return int(value)\n"
        "           ^^^^^^^^^^\n"
        "ValueError: invalid literal for int() with base 10: 'twelve'\n"
    )


async def test_deep_recursion_has_a_short_traceback(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main():\n    return main()")

    assert error.code == "code_error"
    assert error.message.startswith("RecursionError: maximum recursion depth exceeded")
    assert len(error.details["traceback"]) < 4300
    assert "Previous line repeated" in error.details["traceback"]


async def test_a_syntax_error_points_at_the_line(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main():\n    return {'a': 1\n")

    assert error.code == "code_error"
    assert error.message.startswith("SyntaxError: ")
    assert 'File "<code>", line 2' in error.details["traceback"]


async def test_missing_main(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def handler():\n    return {}")

    assert error.code == "code_error"
    assert error.message == "The code must define a function main(**inputs) that returns a dict."


async def test_main_not_accepting_an_input(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main(a):\n    return {}", a=1, b=2)

    assert error.message == "TypeError: main() got an unexpected keyword argument 'b'"


async def test_exit_is_an_error(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "import sys\n\ndef main():\n    sys.exit(3)")

    assert error.message == "The code called exit(3) instead of returning a dict."


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("[1, 2]", "main() must return a dict, not list."),
        ("None", "main() must return a dict, not NoneType."),
        ("{'tags': {1, 2}}", NOT_JSON + "Object of type set is not JSON serializable"),
        ("{'x': float('nan')}", NOT_JSON + "Out of range float values are not JSON compliant"),
    ],
)
async def test_a_result_that_is_not_a_json_object(runner: SandboxCodeRunner, returned: str, message: str) -> None:
    error = await failure(runner, f"def main():\n    return {returned}")

    assert (error.code, error.message) == ("code_bad_result", message)


async def test_a_result_over_the_size_limit(runner: SandboxCodeRunner) -> None:
    error = await failure(runner, "def main():\n    return {'blob': 'x' * 2_000_000}")

    assert error.code == "code_output_too_large"
    assert error.message == "The result is larger than 1048576 bytes."


async def test_a_forged_result_on_the_result_pipe_is_refused(runner: SandboxCodeRunner) -> None:
    # The code can find the result pipe; all it can do is spoil its own result.
    code = """
import os

def main():
    for fd in range(3, 64):
        try:
            os.write(fd, b"garbage")
        except OSError:
            pass
    return {"a": 1}
"""
    error = await failure(runner, code)

    assert error.code == "code_bad_result"


async def test_inputs_over_the_limit_are_refused_before_starting() -> None:
    runner = SandboxCodeRunner(SandboxLimits(inputs_max_bytes=1000, warm=0))
    error = await failure(runner, "def main(text):\n    return {}", text="x" * 2000)

    assert error.code == "code_input_too_large"


async def test_twenty_runs_at_once_while_the_server_keeps_serving() -> None:
    runner = SandboxCodeRunner(SandboxLimits(max_concurrent=20))
    busy = "def main(n):\n    return {'n': n, 'total': sum(range(300_000))}"
    stuck = "def main(n):\n    while True:\n        pass"
    ticks: list[float] = []
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def one(n: int) -> object:
        try:
            return await runner.run(stuck if n % 5 == 0 else busy, {"n": n}, timeout_s=2)
        except NodeError as error:
            return error.code

    beating = asyncio.create_task(heartbeat())
    try:
        results = await asyncio.gather(*(one(n) for n in range(20)))
    finally:
        stop.set()
        await beating
        runner.close()

    assert results == ["code_timeout" if n % 5 == 0 else {"n": n, "total": sum(range(300_000))} for n in range(20)]
    # The loop kept turning while the runs took their 2 s (a loop blocked on the children would have
    # ticked once at the start and once at the end). Its longest pause depends on the machine's load,
    # so it is not asserted.
    assert len(ticks) >= 20


def _sandbox_children() -> set[int]:
    """Our direct children running child.py (both pools and runs)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"child.py" in cmdline:
            children.add(int(entry.name))
    return children


async def _pool_filled(runner: SandboxCodeRunner, size: int) -> None:
    """The pool is topped up in the background, just after an answer."""
    for _ in range(200):
        if len(runner._pool.idle) == size:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the warm pool was not filled")


async def test_a_cancelled_run_kills_its_sandbox() -> None:
    runner = SandboxCodeRunner(SandboxLimits(warm=0))
    await runner.isolation_report()
    before = _sandbox_children()
    task = asyncio.create_task(runner.run("def main():\n    while True:\n        pass", {}, timeout_s=30))
    await asyncio.sleep(0.5)
    running = _sandbox_children() - before

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert len(running) == 1
    assert not (_sandbox_children() & running)


async def test_closing_the_runner_stops_its_warm_sandboxes() -> None:
    before = _sandbox_children()
    runner = SandboxCodeRunner(SandboxLimits(warm=2))
    await runner.run("def main():\n    return {}", {}, timeout_s=10)
    await _pool_filled(runner, 2)
    warm = _sandbox_children() - before

    runner.close()

    assert len(warm) == 2
    assert not (_sandbox_children() & warm)


async def test_a_warm_sandbox_that_died_is_replaced() -> None:
    runner = SandboxCodeRunner(SandboxLimits(warm=1))
    await runner.run("def main():\n    return {}", {}, timeout_s=10)
    await _pool_filled(runner, 1)
    (warm,) = _sandbox_children() & {process.popen.pid for process in runner._pool.idle}
    os.killpg(warm, signal.SIGKILL)

    try:
        assert await runner.run("def main():\n    return {'ok': True}", {}, timeout_s=10) == {"ok": True}
    finally:
        runner.close()


class _BrokenSetUp(SandboxCodeRunner):
    """A machine where the isolation cannot be set up (here: the new root cannot be mounted)."""

    def _config(self, root: str) -> str:
        return super()._config("/nonexistent/agentloom-sandbox")


async def test_without_isolation_nothing_runs() -> None:
    runner = _BrokenSetUp(SandboxLimits(warm=0))

    report = await runner.isolation_report()
    error = await failure(runner, "def main():\n    return {}")

    assert not report["available"]
    assert "mount /nonexistent/agentloom-sandbox" in report["reason"]
    assert error.code == "sandbox_unavailable"
    assert error.message.startswith("Code cannot run safely on this server: The code sandbox could not be set up")
