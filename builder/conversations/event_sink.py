"""Where a run's events go: the live log, the channel group, the trace, and (compactly) the database.

The order matters for the guarantees clients rely on: every event is appended to the live log
before it is broadcast (so a reconnecting client can always catch up), and the final assistant
message is saved before ``run.finished`` is broadcast, with the files tools produced during the run
(``message.completed`` carries them; a run resumed after a question adds those of its earlier legs).

Events are published in batches (one live-log append and one group message per batch): whatever
the engine emits while the previous batch is on its way goes in the next one. An idle run sends each
event at once; a busy process (hundreds of chats, a slow Redis) sends fewer, larger messages instead
of falling behind one token at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from builder.conversations.models import Message, Run, RunEvent, RunStep
from builder.engine.runtime.events import (
    ErrorInfo,
    MessageCompleted,
    MessageDelta,
    NodeDelta,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    RunFailed,
    RunFinished,
    RunPaused,
)
from builder.engine.runtime.events import (
    RunEvent as EngineEvent,
)
from builder.realtime.event_log import live_event_log
from builder.realtime.groups import conversation_group

# Token-level events live only in the live log; the database keeps the folded message.
TRANSIENT_EVENT_TYPES = {MessageDelta.model_fields["type"].default, NodeDelta.model_fields["type"].default}
TERMINAL_EVENTS = (RunFinished, RunFailed, RunPaused)
OUTCOME_FIELDS = [
    "last_seq",
    "heartbeat_at",
    "status",
    "answer",
    "outputs",
    "usage",
    "error",
    "finished_at",
    "paused_node_id",
]


class RunGone(Exception):
    """The run's row was deleted while it executed (its conversation or bot was deleted)."""


class RunEventSink:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.run_id = str(run.pk)
        self.group = conversation_group(run.conversation_id)
        self.layer = get_channel_layer()
        self.log = live_event_log()
        self.steps: dict[str, RunStep] = {}
        self.persisted: list[RunEvent] = []
        self.last_seq = run.last_seq
        self.resumed = run.last_seq > 0
        # The events of the run's earlier legs (before a pause) end here.
        self.earlier_seq = run.last_seq
        # The files of this leg's assistant message (its message.completed's).
        self.files: list[dict[str, Any]] = []
        self._unsent: list[dict[str, Any]] = []
        self._sender: asyncio.Task[None] | None = None

    async def emit(self, event: EngineEvent) -> None:
        payload = event.model_dump(mode="json")
        self.last_seq = event.seq
        self._trace(event)
        if isinstance(event, MessageCompleted):
            self.files = payload["files"]
        if event.type not in TRANSIENT_EVENT_TYPES:
            self.persisted.append(RunEvent(run_id=self.run.pk, seq=event.seq, type=event.type, data=payload))
        if isinstance(event, TERMINAL_EVENTS):
            await self.flush()
            await self._persist(event)
            await self.publish([payload])
            return
        self._unsent.append(payload)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_unsent())
        elif self._sender.done():  # it failed: fail the run at its next event (once)
            sender, self._sender = self._sender, None
            sender.result()

    async def flush(self) -> None:
        """Publish everything emitted so far (raising, once, what a background publish raised)."""
        sender, self._sender = self._sender, None
        if sender is not None:
            await sender
        await self._send_unsent()

    async def _send_unsent(self) -> None:
        while self._unsent:
            batch, self._unsent = self._unsent, []
            await self.publish(batch)
        self._sender = None

    async def fail(self, code: str, template: str, /, **params: Any) -> None:
        """End the run as failed from outside the engine (a crash, a lost worker), after its last event.
        ``template`` is English, marked with ``gettext_noop``; clients see it in their language."""
        error = ErrorInfo.from_template(code, template, **params)
        await self.emit(
            RunFailed(run_id=self.run_id, seq=self.last_seq + 1, at=timezone.now().timestamp(), error=error)
        )

    async def publish(self, events: list[dict[str, Any]]) -> None:
        await self.log.append(self.run_id, events)
        if self.layer is not None:
            await self.layer.group_send(self.group, {"type": "run.events", "events": events})

    def _trace(self, event: EngineEvent) -> None:
        if isinstance(event, NodeStarted):
            self.steps[event.node_id] = RunStep(
                run_id=self.run.pk,
                node_id=event.node_id,
                node_type=event.node_type,
                status="running",
                started_seq=event.seq,
                attempts=event.attempt,
            )
        elif isinstance(event, NodeFinished | NodeFailed):
            step = self.steps.get(event.node_id) or RunStep(
                run_id=self.run.pk, node_id=event.node_id, node_type=event.node_type, started_seq=event.seq
            )
            step.latency_ms = event.latency_ms
            step.attempts = event.attempts
            if isinstance(event, NodeFinished):
                step.status = "finished"
                step.inputs, step.outputs = event.inputs, event.outputs
                step.branch = event.branch or ""
                step.usage = event.usage.model_dump() if event.usage else {}
                step.error = event.error.model_dump() if event.error else None
            else:
                step.status = "failed"
                step.error = event.error.model_dump()
            self.steps[event.node_id] = step

    async def _persist(self, event: EngineEvent) -> None:
        """Write the outcome before the client hears of it."""
        await sync_to_async(self._write_outcome)(event)
        self.persisted = []

    @transaction.atomic
    def _write_outcome(self, event: EngineEvent) -> None:
        """One transaction (and one trip to the database thread) for the whole outcome; the run's
        row first, so a run deleted meanwhile writes nothing (``RunGone``)."""
        run = self.run
        now = timezone.now()
        run.last_seq = event.seq
        run.heartbeat_at = now
        if isinstance(event, RunFinished):
            run.status = Run.Status.FINISHED
            run.answer, run.outputs = event.answer, event.outputs
            run.usage = event.usage.model_dump()
            run.finished_at = now
        elif isinstance(event, RunFailed):
            run.status = Run.Status.CANCELLED if event.error.code == "cancelled" else Run.Status.FAILED
            run.error = event.error.model_dump()
            run.finished_at = now
        elif isinstance(event, RunPaused):
            run.status = Run.Status.PAUSED
            run.paused_node_id = event.node_id
        run.updated_at = now
        outcome = {name: getattr(run, name) for name in [*OUTCOME_FIELDS, "updated_at"]}
        if not Run.objects.filter(pk=run.pk).update(**outcome):
            raise RunGone(self.run_id)
        if isinstance(event, RunFinished):
            Message.objects.create(
                conversation_id=run.conversation_id,
                role=Message.Role.ASSISTANT,
                content=event.answer,
                files=self._earlier_files() + self.files,
                run=run,
            )
        if self.steps:
            if self.resumed:  # a resumed run rewrites the steps it had recorded before pausing
                RunStep.objects.filter(run=run, node_id__in=list(self.steps)).delete()
            RunStep.objects.bulk_create(list(self.steps.values()))
        RunEvent.objects.bulk_create(self.persisted, ignore_conflicts=True)

    def _earlier_files(self) -> list[dict[str, Any]]:
        """The files of the message.completed events a resumed run sent before it paused."""
        if not self.resumed:
            return []
        completed = RunEvent.objects.filter(
            run=self.run, type=MessageCompleted.model_fields["type"].default, seq__lte=self.earlier_seq
        ).order_by("seq")
        return [file for data in completed.values_list("data", flat=True) for file in data.get("files", [])]
