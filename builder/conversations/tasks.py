from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from celery import shared_task

from builder.conversations.executor import execute_run, reap_stale_runs

T = TypeVar("T")
# One loop per worker thread (``--pool threads`` runs many runs at once in one process).
_local = threading.local()


def run_on_worker_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on this worker thread's own long-lived event loop, so connections (Redis, model
    clients, checkpoints) are reused from task to task instead of rebuilt by every asyncio.run()."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop.run_until_complete(coroutine)


@shared_task(name="conversations.run_execute", acks_late=True)
def run_execute(run_id: str, resume: Any = None) -> None:
    """Thin entry point: safe to deliver twice (execute_run claims the run atomically)."""
    run_on_worker_loop(execute_run(run_id, resume=resume))


@shared_task(name="conversations.reap_stale_runs")
def reap_stale_runs_task() -> int:
    return run_on_worker_loop(reap_stale_runs())
