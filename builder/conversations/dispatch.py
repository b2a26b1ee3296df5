"""Start a run where this deployment runs them: inline (embedded default) or on a Celery worker.

Inline runs execute on the server's event loop. Services that dispatch are sync code (they run in
a worker thread under ASGI), so the loop is remembered by the async entry points (the websocket
consumer, the SSE view) and runs are handed to it without blocking the caller.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

logger = logging.getLogger(__name__)
_server_loop: asyncio.AbstractEventLoop | None = None
# References to inline runs, so they are not garbage-collected while running.
_inline_runs: set[asyncio.Task[None]] = set()


def remember_loop() -> None:
    """Called from async code: inline runs will execute on this loop."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def dispatch_run(run_id: str, *, resume: Any = None) -> None:
    from builder.conversations.executor import execute_run

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from builder.conversations.tasks import run_execute

        run_execute.delay(run_id, resume=resume)
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = running or (_server_loop if _server_loop is not None and _server_loop.is_running() else None)
    if loop is None:
        # No server loop (management commands, sync tests): run to completion here.
        async_to_sync(execute_run)(run_id, resume=resume)
        return

    def start() -> None:
        # A fresh context: the run must not inherit the request's (asgiref binds the request's
        # thread executor to it, and that executor is gone once the response is sent).
        job = loop.create_task(execute_run(run_id, resume=resume), context=contextvars.Context())
        _inline_runs.add(job)
        job.add_done_callback(_finished)

    if running is not None:
        start()
    else:
        loop.call_soon_threadsafe(start, context=contextvars.Context())


def _finished(job: asyncio.Task[None]) -> None:
    _inline_runs.discard(job)
    # execute_run reports run failures as events; anything escaping it is a bug worth a log line.
    if not job.cancelled() and job.exception() is not None:
        logger.error("inline run crashed", exc_info=job.exception())
