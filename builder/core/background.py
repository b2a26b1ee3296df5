"""Run a Celery task wherever this deployment runs background work.

Production: the task is queued for a Celery worker. Embedded default: it runs in a background
thread of the web process, a bounded number of tasks at a time per lane (one unless the lane asks
for more), so a long job (indexing a document, learning from a turn) neither holds up the request
that queued it nor competes with the chats for the event loop, and one lane's backlog never
delays another's.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_executors: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()
_pending: set[Future[None]] = set()


def run_in_background(task: Task[Any, Any], *args: str, lane: str, workers: int = 1) -> Future[None] | None:
    """Queue ``task(*args)`` for a worker, or (embedded) run it in one of ``lane``'s ``workers``
    background threads (the lane's first task sets how many it has)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        task.delay(*args)
        return None
    with _lock:
        executor = _executors.get(lane)
        if executor is None:
            executor = _executors[lane] = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=lane)
        future = executor.submit(_run_in_thread, task, args)
        _pending.add(future)
    future.add_done_callback(_pending.discard)
    return future


def _run_in_thread(task: Task[Any, Any], args: tuple[str, ...]) -> None:
    try:
        task(*args)
    except Exception:  # nobody waits for it: say what went wrong
        logger.exception("background task %s%s failed", task.name, args)
    finally:
        close_old_connections()


def wait_for_background(timeout_s: float = 30.0) -> bool:
    """Wait until the embedded background work queued so far is done (tests, shutdown); False on timeout."""
    with _lock:
        pending = set(_pending)
    return not wait(pending, timeout=timeout_s).not_done
