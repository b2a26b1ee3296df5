"""Execute one run: load it, run its graph with the engine, and send the events on.

Called in the web process (embedded default) or by the Celery task (production). Safe to call twice
for the same run: only the call that moves it from queued to running executes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_noop

from builder.conversations.cancellation import cancel_requested, forget_cancel, local_cancel_event
from builder.conversations.event_sink import RunEventSink, RunGone
from builder.conversations.models import Conversation, Run
from builder.conversations.wiring import graph_runner, run_limits, runtime_services
from builder.engine.runtime.runner import RunRequest
from builder.llm.models import ModelProvider
from builder.llm.selectors import model_providers_for_run
from builder.memory.models import speaker_id_of
from builder.memory.turns import TurnMemory

logger = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S = 2.0
STOPPED_UNEXPECTEDLY = gettext_noop("The run stopped unexpectedly: %(type)s")
WORKER_LOST = gettext_noop("The worker running this bot stopped; please send again.")


def _claim(run_id: str) -> tuple[Run, list[ModelProvider]] | None:
    """Move the run to running and load what it needs in one go (one trip to the database thread).

    None when another executor already has it, or it is over: executing twice is harmless.
    """
    now = timezone.now()
    if not Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now
    ):
        return None
    # With its principal (the key, or the person who started it): whose rights a draft run uses.
    run = Run.objects.select_related(
        "conversation", "bot__workspace", "api_key__created_by", "api_key__workspace", "created_by"
    ).get(pk=run_id)
    return run, model_providers_for_run(workspace_id=run.bot.workspace_id)


async def _heartbeat(run: Run, sink: RunEventSink, cancel: asyncio.Event) -> None:
    """Keep the heartbeat fresh (so the reaper leaves us alone), record how far the events went
    (so the reaper's run.failed follows them) and notice cancels sent to another process."""
    while not cancel.is_set():
        await asyncio.sleep(HEARTBEAT_INTERVAL_S)
        beating = await Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).aupdate(
            heartbeat_at=timezone.now(), last_seq=sink.last_seq
        )
        # A deleted run (its conversation or bot was deleted) stops as a cancelled one would.
        if await cancel_requested(str(run.pk)) or (not beating and not await Run.objects.filter(pk=run.pk).aexists()):
            cancel.set()


async def execute_run(run_id: str, *, resume: Any = None) -> None:
    claimed = await sync_to_async(_claim)(run_id)
    if claimed is None:
        return
    run, providers = claimed
    sink = RunEventSink(run)
    cancel = local_cancel_event(run_id)
    heartbeat = asyncio.create_task(_heartbeat(run, sink, cancel))
    try:
        runner = await graph_runner(run)
        memory = await TurnMemory.load(run, runner.graph)
        request = RunRequest(
            run_id=run_id,
            thread_id=run_id,
            query=run.query,
            sys={
                "user_id": speaker_id_of(run.conversation),
                "conversation_id": str(run.conversation_id),
                "files": [],
                "now": timezone.now().isoformat(),
                # The bot's persona: the system prompt of llm/agent nodes that have none of their own.
                "persona": runner.graph.settings.persona,
            },
            conv=dict(run.conversation.variables),
            user=memory.user,
            first_seq=run.last_seq + 1,
            limits=run_limits(),
        )
        services = runtime_services(run, runner, providers, end_user_memory=True)
        outcome = await runner.run(request, sink.emit, resume=resume, cancel=cancel, services=services)
        if outcome.conv != run.conversation.variables:
            # An update, not save(): the conversation may have been deleted since the run ended.
            await Conversation.objects.filter(pk=run.conversation_id).aupdate(
                variables=outcome.conv, updated_at=timezone.now()
            )
        await memory.after_run(outcome)
    except RunGone:
        logger.info("run %s was deleted while it executed: dropped", run_id)
    except Exception as exc:  # the engine reports node errors as events; this is a bug or an outage
        logger.exception("run %s crashed", run_id)
        with contextlib.suppress(RunGone):
            await sink.fail("internal_error", STOPPED_UNEXPECTEDLY, type=type(exc).__name__)
    finally:
        cancel.set()
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        forget_cancel(run_id)


async def reap_stale_runs() -> int:
    """Runs whose executor died (no heartbeat) are marked failed, never left running."""
    cutoff = timezone.now() - timedelta(seconds=settings.RUN_STALE_AFTER_S)
    stale = [run async for run in Run.objects.filter(status=Run.Status.RUNNING, heartbeat_at__lt=cutoff)]
    for run in stale:
        await RunEventSink(run).fail("worker_lost", WORKER_LOST)
    return len(stale)
