from __future__ import annotations

import asyncio
from typing import Any

from celery import shared_task

from builder.conversations.executor import execute_run, reap_stale_runs


@shared_task(name="conversations.run_execute", acks_late=True)
def run_execute(run_id: str, resume: Any = None) -> None:
    """Thin entry point: safe to deliver twice (execute_run claims the run atomically)."""
    asyncio.run(execute_run(run_id, resume=resume))


@shared_task(name="conversations.reap_stale_runs")
def reap_stale_runs_task() -> int:
    return asyncio.run(reap_stale_runs())
